import { uuidv7 } from '@kimlik/core';

let lastMs = 0;
let counter = 0;

/**
 * A UUIDv7 whose 12 `rand_a` bits count events within one millisecond (RFC 9562 §6.2, method 1),
 * so a tab's IDs sort in call order: the IndexedDB queue is keyed by messageId and a reload
 * restores it in key order. 4096 events in one millisecond spill into the next one's IDs.
 */
export function nextMessageId(): string {
  let now = Date.now();
  if (now <= lastMs) {
    now = lastMs;
    if (++counter > 0xfff) {
      now = ++lastMs;
      counter = 0;
    }
  } else {
    lastMs = now;
    counter = 0;
  }
  return uuidv7(now, counter);
}
