import type { LiveItem } from '@kimlik/core';

export type { LiveItem };

/**
 * In-process feed of what ingest just did, for the live debugger. Publishing costs nothing while no
 * one listens; a slow listener never slows ingest (it receives items synchronously and must buffer
 * or drop on its own).
 */
export class LiveFeed {
  private readonly listeners = new Set<(items: LiveItem[]) => void>();

  get active(): boolean {
    return this.listeners.size > 0;
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (items: LiveItem[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(items: LiveItem[]): void {
    if (items.length === 0) return;
    for (const l of this.listeners) l(items);
  }
}
