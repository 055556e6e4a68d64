#!/usr/bin/env node
import { startCollector } from '../server.js';

startCollector(process.env).catch((err: Error) => {
  console.error(`kimlik-collector: ${err.message}`);
  process.exit(1);
});
