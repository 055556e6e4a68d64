import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type AdminApi, ApiError, type LiveItem, type Source } from './api.js';
import { eventLabel, isolate, json, number, timeOf, who } from './format.js';
import { GettingStarted } from './snippets.js';

/** Rows kept in the page; older ones fall off the end so memory stays flat at any rate. */
export const MAX_ROWS = 5000;
const ROW_HEIGHT_PX = 36;
/** Rows rendered above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN_ROWS = 8;
const BACKFILL_EVENTS = 100;
/** Page size when reading back the events stored while the stream was down. */
const CATCH_UP_PAGE = 1000;
const TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;

interface Row {
  id: number;
  rejected: boolean;
  type: string;
  label: string;
  who: string;
  sourceId: number;
  at: string;
  note: string;
  item: LiveItem;
}

let nextRowId = 1;
function toRow(item: LiveItem): Row {
  if (item.kind === 'rejected') {
    return {
      id: nextRowId++,
      rejected: true,
      type: 'rejected',
      label: item.code,
      who: item.messageId ?? '',
      sourceId: item.sourceId,
      at: item.receivedAt,
      note: item.reason,
      item,
    };
  }
  const e = item.event;
  return {
    id: nextRowId++,
    rejected: false,
    type: String(e.type ?? ''),
    label: eventLabel(e),
    who: who(e),
    sourceId: item.sourceId,
    at: String(e.receivedAt ?? ''),
    note: item.outcome === 'stored' ? '' : item.outcome,
    item,
  };
}

type Status = 'connecting' | 'live' | 'reconnecting';

export function LiveDebugger(props: { api: AdminApi; onError: (err: unknown) => void }) {
  const { api } = props;
  // Rows live in a ref and a version number triggers renders, at most once per animation frame.
  const rows = useRef<Row[]>([]);
  const held = useRef<Row[]>([]);
  const [, setVersion] = useState(0);
  const frame = useRef<number | null>(null);
  const [status, setStatus] = useState<Status>('connecting');
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const [dropped, setDropped] = useState(0);
  const [sources, setSources] = useState<Source[]>([]);
  const [typeFilter, setTypeFilter] = useState('');
  const [nameFilter, setNameFilter] = useState('');
  const [sourceFilter, setSourceFilter] = useState('');
  const [selected, setSelected] = useState<Row | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const listRef = useRef<HTMLDivElement>(null);

  const redraw = () => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      setVersion((v) => v + 1);
    });
  };

  const add = (newest: Row[]) => {
    const target = pausedRef.current ? held : rows;
    target.current = newest.concat(target.current);
    if (target.current.length > MAX_ROWS) target.current.length = MAX_ROWS;
    // Paused, the list stays put (its rows are memoised) and only the count of held events changes.
    redraw();
  };

  useEffect(() => {
    const abort = new AbortController();
    const seen = new Set<string>();
    let retryMs = 1000;
    let connected = false;
    // After a reconnect: what was stored while the stream was down (a collector restart, a dropped
    // connection), which the stream, carrying only new items, never sends. Read back page by page to
    // the newest event shown before the gap, up to the rows the page keeps.
    const catchUp = async () => {
      try {
        const id = (r: Row) => (r.item.kind === 'event' ? String(r.item.event.messageId) : '');
        const shown = new Set([...rows.current, ...held.current].map(id));
        shown.delete('');
        const missing: { sourceId: number; event: Record<string, unknown> }[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await api.recentEvents(shown.size ? CATCH_UP_PAGE : BACKFILL_EVENTS, before);
          const reached = page.events.findIndex((e) => shown.has(String(e.event.messageId)));
          missing.push(...(reached === -1 ? page.events : page.events.slice(0, reached)));
          if (reached !== -1 || !page.nextCursor || !shown.size || missing.length >= MAX_ROWS) break;
          before = page.nextCursor;
        }
        // The stream may have shown the newest of them meanwhile; it skips the rest when they come.
        const now = new Set([...rows.current, ...held.current].map(id));
        const fresh = missing.slice(0, MAX_ROWS).filter((e) => !now.has(String(e.event.messageId)));
        for (const e of fresh) seen.add(String(e.event.messageId));
        add(fresh.map((e) => toRow({ kind: 'event', sourceId: e.sourceId, outcome: 'stored', event: e.event })));
      } catch (err) {
        props.onError(err);
      }
    };
    api.sources().then(setSources, props.onError);
    const run = async () => {
      try {
        const recent = await api.recentEvents(BACKFILL_EVENTS);
        const backfill = recent.events.map((e) => {
          seen.add(String(e.event.messageId));
          return toRow({ kind: 'event', sourceId: e.sourceId, outcome: 'stored', event: e.event });
        });
        rows.current = backfill.concat(rows.current).slice(0, MAX_ROWS);
        redraw();
      } catch (err) {
        props.onError(err);
      }
      while (!abort.signal.aborted) {
        try {
          await api.stream(
            (items, lost) => {
              const fresh: Row[] = [];
              for (let i = items.length - 1; i >= 0; i--) {
                const item = items[i] as LiveItem;
                // The backfill and the stream can overlap by a few events at the start.
                if (seen.size > 0 && item.kind === 'event' && seen.delete(String(item.event.messageId))) continue;
                fresh.push(toRow(item));
              }
              add(fresh);
              if (lost > 0) setDropped((d) => d + lost);
            },
            () => {
              retryMs = 1000;
              setStatus('live');
              if (connected) void catchUp();
              connected = true;
            },
            abort.signal,
          );
        } catch (err) {
          if (abort.signal.aborted) return;
          if (err instanceof ApiError && err.status === 401) {
            props.onError(err);
            return;
          }
        }
        if (abort.signal.aborted) return;
        setStatus('reconnecting');
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(retryMs * 2, 10_000);
      }
    };
    void run();
    return () => {
      abort.abort();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    };
  }, [api]);

  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const togglePause = () => {
    const next = !pausedRef.current;
    pausedRef.current = next;
    setPaused(next);
    if (!next && held.current.length > 0) {
      rows.current = held.current.concat(rows.current).slice(0, MAX_ROWS);
      held.current = [];
    }
    redraw();
  };

  const clear = () => {
    rows.current = [];
    held.current = [];
    setSelected(null);
    setDropped(0);
    redraw();
  };

  const needle = nameFilter.trim().toLowerCase();
  const visible = useMemo(
    () =>
      rows.current.filter(
        (r) =>
          (typeFilter === '' || r.type === typeFilter) &&
          (sourceFilter === '' || String(r.sourceId) === sourceFilter) &&
          (needle === '' || r.label.toLowerCase().includes(needle)),
      ),
    // rows.current changes identity on every add; the version state re-runs this render.
    [rows.current, typeFilter, sourceFilter, needle],
  );

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
  const last = Math.min(visible.length, Math.ceil((scrollTop + viewport) / ROW_HEIGHT_PX) + OVERSCAN_ROWS);
  const sourceName = (id: number) => sources.find((s) => s.id === id)?.name ?? `source ${id}`;

  const select = (row: Row | null) => {
    setSelected(row);
    if (!row) return;
    const index = visible.indexOf(row);
    const el = listRef.current;
    if (!el || index < 0) return;
    const top = index * ROW_HEIGHT_PX;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT_PX > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT_PX - el.clientHeight;
    (el.querySelector(`[data-row="${row.id}"]`) as HTMLElement | null)?.focus();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const index = selected ? visible.indexOf(selected) : -1;
    const next = visible[Math.max(0, Math.min(visible.length - 1, index + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next) select(next);
  };

  return (
    <main class="live">
      <div class="page-head">
        <h1>Live debugger</h1>
        <p class="status">
          <span class={`dot ${status}`} aria-hidden="true" />
          {/* Only the connection state is announced: the count changes ten times a second. */}
          <span aria-live="polite">
            {status === 'live'
              ? paused
                ? 'Paused'
                : 'Live'
              : status === 'connecting'
                ? 'Connecting…'
                : 'Reconnecting…'}
          </span>
          {' · '}
          {number(rows.current.length)} events shown (newest first, up to {number(MAX_ROWS)})
          {dropped > 0 && ` · ${number(dropped)} skipped (arriving faster than the page can show)`}
        </p>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Type
          <select value={typeFilter} onChange={(e) => setTypeFilter((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
            <option value="rejected">rejected</option>
          </select>
        </label>
        <label>
          Event name
          <input
            type="search"
            value={nameFilter}
            placeholder="e.g. Signed Up"
            onInput={(e) => setNameFilter((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Source
          <select value={sourceFilter} onChange={(e) => setSourceFilter((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {sources.map((s) => (
              <option value={String(s.id)}>{s.name}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume${held.current.length > 0 ? ` (${number(held.current.length)} new)` : ''}` : 'Pause'}
        </button>
        <button type="button" class="secondary" onClick={clear}>
          Clear
        </button>
      </form>
      <div class="split">
        <div class="rows" ref={listRef} onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}>
          {visible.length === 0 ? (
            rows.current.length === 0 ? (
              <GettingStarted sources={sources} />
            ) : (
              <p class="empty">No event matches the filters.</p>
            )
          ) : (
            <ul
              class="rows-inner"
              aria-label="Events, newest first (arrow keys move the selection)"
              style={{ height: `${visible.length * ROW_HEIGHT_PX}px` }}
            >
              {visible.slice(first, last).map((r, i) => (
                <li class="row-slot" style={{ top: `${(first + i) * ROW_HEIGHT_PX}px` }} key={r.id}>
                  <button
                    type="button"
                    data-row={r.id}
                    class={`row${r.rejected ? ' rejected' : ''}${selected?.id === r.id ? ' selected' : ''}`}
                    aria-pressed={selected?.id === r.id}
                    title={r.rejected ? `${r.label}: ${isolate(r.note)}` : undefined}
                    onClick={() => select(r)}
                    onKeyDown={onKeyDown}
                  >
                    <span class="time">{timeOf(r.at)}</span>
                    <span class={`badge ${r.type}`}>{r.type}</span>
                    <span class="label">
                      <bdi>{r.label}</bdi>
                    </span>
                    {r.rejected ? (
                      <span class="reason">
                        <bdi>{r.note}</bdi>
                      </span>
                    ) : (
                      <>
                        <span class="who">
                          <bdi>{r.who}</bdi>
                        </span>
                        <span class="source">{r.note || sourceName(r.sourceId)}</span>
                      </>
                    )}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <aside class="detail" aria-label="Selected event">
          {selected ? (
            <>
              <div class="detail-head">
                <h2>
                  {selected.rejected ? (
                    'Rejected event'
                  ) : (
                    <>
                      {selected.type} <bdi>{selected.label}</bdi>
                    </>
                  )}
                </h2>
                <button type="button" class="link" onClick={() => setSelected(null)}>
                  Close
                </button>
              </div>
              {selected.item.kind === 'rejected' && (
                <p class="error">
                  <strong>{selected.item.code}</strong>: <bdi>{selected.item.reason}</bdi> (event{' '}
                  {selected.item.index + 1} of its request)
                </p>
              )}
              <pre class="json">{json(selected.item.kind === 'event' ? selected.item.event : selected.item)}</pre>
            </>
          ) : (
            <p class="muted">Select an event to see its full JSON.</p>
          )}
        </aside>
      </div>
    </main>
  );
}
