import type { LiveItem, ProfileHistory, ProfileView, SourceView, StatsView } from '@kimlik/core';

/** The admin API as the dashboard uses it: every call carries the admin key in the Authorization header. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// The answers' shapes are defined once in core, beside the collector code that sends them.
export type { IdentityEntry, LiveItem } from '@kimlik/core';
export type Profile = ProfileView;
export type History = ProfileHistory;
export type Stats = StatsView;
export type Source = SourceView;

export class AdminApi {
  /** Told of every 401: the key stopped working (rotated, a collector restarted with another). */
  onUnauthorized?: () => void;
  /** How often the live stream's heartbeat comes: the server's default until its hello says. */
  private heartbeatMs = 15_000;

  constructor(private readonly key: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, 'NETWORK', `The collector cannot be reached (${(error as Error).message})`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch (error) {
      throw new ApiError(res.status, 'BAD_RESPONSE', `Unexpected answer (${res.status}): ${(error as Error).message}`);
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized?.();
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(res.status, err?.code ?? 'UNKNOWN', err?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }
  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  stats(range: 'hour' | 'day'): Promise<Stats> {
    return this.get(`/v1/stats?range=${range}`);
  }
  async sources(): Promise<Source[]> {
    return (await this.get<{ sources: Source[] }>('/v1/sources')).sources;
  }
  /** Stored events newest first; `before` is a previous page's `nextCursor`. */
  recentEvents(
    limit: number,
    before?: string,
  ): Promise<{
    events: { id: string; sourceId: number; event: Record<string, unknown> }[];
    nextCursor: string | null;
  }> {
    return this.get(`/v1/events?limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`);
  }

  /**
   * Reads `GET /v1/stream/events` until `signal` aborts. fetch() rather than EventSource, which
   * cannot send the Authorization header. Resolves when the stream ends; rejects on HTTP errors and
   * when nothing arrives for two heartbeats (the server's hello says how often they come): a
   * network gone silent fails nothing by itself, and the page would say "Live" for ever.
   */
  async stream(
    onItems: (items: LiveItem[], dropped: number) => void,
    onOpen: () => void,
    signal: AbortSignal,
  ): Promise<void> {
    const silent = new AbortController();
    const stop = () => silent.abort();
    signal.addEventListener('abort', stop);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      clearTimeout(timer);
      timer = setTimeout(stop, 2 * this.heartbeatMs + 5000);
    };
    heard();
    try {
      const res = await fetch('/v1/stream/events', {
        headers: { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' },
        signal: silent.signal,
      });
      if (!res.ok || !res.body) {
        const err = ((await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null)
          ?.error;
        throw new ApiError(res.status, err?.code ?? 'UNKNOWN', err?.message ?? `HTTP ${res.status}`);
      }
      onOpen();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        heard();
        pending += value;
        let end = pending.indexOf('\n\n');
        while (end !== -1) {
          const message = pending.slice(0, end);
          pending = pending.slice(end + 2);
          end = pending.indexOf('\n\n');
          let event = 'message';
          let data = '';
          for (const line of message.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'hello') {
            const { heartbeatMs } = JSON.parse(data) as { heartbeatMs?: number };
            if (typeof heartbeatMs === 'number' && heartbeatMs > 0) this.heartbeatMs = heartbeatMs;
            heard();
          } else if (event === 'items') {
            const parsed = JSON.parse(data) as { items: LiveItem[]; dropped: number };
            onItems(parsed.items, parsed.dropped);
          }
        }
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
  }
}
