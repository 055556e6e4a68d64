import { describe, expect, it } from 'vitest';
import { KimlikError } from '../errors.js';
import { OutcomeBook } from './outcome-book.js';

describe('OutcomeBook', () => {
  it("answers an awaited receipt with the caller's messageId even when the engine settles without one", async () => {
    let unsettled = true;
    const book = new OutcomeBook({ isUnsettled: () => unsettled, awaited: () => undefined });
    const waiting = book.outcome(7, 'msg-7');
    unsettled = false;
    // An event held only on disk is failed at shutdown without its id in memory.
    book.settle(7, () => '', new KimlikError('KIMLIK_SHUTDOWN', 'stopped'));
    await expect(waiting).resolves.toMatchObject({ messageId: 'msg-7', delivered: false });
  });
});
