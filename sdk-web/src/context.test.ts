import { describe, expect, test } from 'vitest';
import { campaign } from './context.js';

describe('campaign', () => {
  test('maps utm_* to Segment context.campaign names', () => {
    expect(campaign('?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=t&utm_content=c&x=1')).toEqual({
      source: 'news',
      medium: 'email',
      name: 'spring',
      term: 't',
      content: 'c',
    });
    expect(campaign('?q=1')).toBeUndefined();
  });
});
