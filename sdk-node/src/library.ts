/** `context.library` of every event, as Segment's libraries set it. Kept in step with package.json by a test. */
export const LIBRARY = Object.freeze({ name: '@kimlik/node', version: '0.1.0' });
