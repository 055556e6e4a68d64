import type { BuiltBatch, EventRun } from './event-buffer.js';
import type { OutgoingBatch } from './ports.js';

/** Events out of the queue: in a request, or waiting for a retry. A batch that fails is retried as the same batch. */
export interface Batch {
  events: EventRun;
  attempts: number;
  sending: boolean;
  /**
   * The request body, built when the transport first reads it and released once the request
   * settles. Until then the batch is in no request, and the queue bound may take its oldest events.
   */
  body?: BuiltBatch | undefined;
}

/** What the transport sees of a batch: all but the attempt is read through `built`, so the body is made on first read. */
export function outgoingBatch(attempt: number, built: () => BuiltBatch): OutgoingBatch {
  return {
    attempt,
    get body() {
      return built().body;
    },
    get bytes() {
      return built().bytes;
    },
    get messageIds() {
      return built().messageIds;
    },
  };
}
