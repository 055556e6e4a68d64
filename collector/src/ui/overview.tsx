import { useEffect, useState } from 'preact/hooks';
import type { AdminApi, Source, Stats } from './api.js';
import { number } from './format.js';
import { nodeSnippet, Snippet, scriptTagSnippet } from './snippets.js';

const REFRESH_MS = 10_000;

/** Events per minute as bars in an SVG: no chart library, nothing to load from elsewhere. */
function EventsChart(props: { stats: Stats }) {
  const { buckets, range } = props.stats;
  const width = 720;
  const height = 180;
  const pad = { left: 44, right: 8, top: 10, bottom: 24 };
  const max = Math.max(1, ...buckets.map((b) => b.events));
  const step = (width - pad.left - pad.right) / Math.max(1, buckets.length);
  const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const tickEvery = range === 'hour' ? 10 : 180;
  const total = buckets.reduce((s, b) => s + b.events, 0);
  const peak = buckets.reduce((p, b) => (b.events > p.events ? b : p), buckets[0] ?? { start: '', events: 0 });
  const summary = `Events per minute over the last ${range}: ${number(total)} in total, at most ${number(max)} in one minute${
    peak.events > 0 ? ` (${new Date(peak.start).toLocaleTimeString(undefined, { hour12: false })})` : ''
  }.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary}>
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} class="axis" />
        <line x1={pad.left} x2={width - pad.right} y1={y(max)} y2={y(max)} class="grid" />
        <text x={pad.left - 6} y={y(max) + 4} class="tick" text-anchor="end">
          {number(max)}
        </text>
        <text x={pad.left - 6} y={y(0) + 4} class="tick" text-anchor="end">
          0
        </text>
        {buckets.map((b, i) =>
          b.events > 0 ? (
            <rect
              x={pad.left + i * step}
              width={Math.max(1, step - (step > 3 ? 1 : 0))}
              y={y(b.events)}
              height={y(0) - y(b.events)}
              class="bar"
            >
              <title>{`${new Date(b.start).toLocaleTimeString(undefined, { hour12: false })}: ${number(b.events)}`}</title>
            </rect>
          ) : null,
        )}
        {buckets.map((b, i) =>
          i % tickEvery === 0 ? (
            <text x={pad.left + i * step} y={height - 6} class="tick">
              {new Date(b.start).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false })}
            </text>
          ) : null,
        )}
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}

export function Overview(props: { api: AdminApi; onError: (err: unknown) => void }) {
  const { api } = props;
  const [range, setRange] = useState<'hour' | 'day'>('hour');
  const [stats, setStats] = useState<Stats | null>(null);
  const [sources, setSources] = useState<Source[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      api.stats(range).then(
        (s) => {
          if (stopped) return;
          setStats(s);
          setError(null);
        },
        (err: Error) => {
          setError(err.message);
          props.onError(err);
        },
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api, range]);

  useEffect(() => {
    api.sources().then(setSources, props.onError);
  }, [api]);

  return (
    <main class="overview">
      <div class="page-head">
        <h1>Overview</h1>
        <fieldset class="segmented">
          <legend class="visually-hidden">Time range</legend>
          {(['hour', 'day'] as const).map((r) => (
            <label>
              <input type="radio" name="range" value={r} checked={range === r} onChange={() => setRange(r)} />
              <span>Last {r}</span>
            </label>
          ))}
        </fieldset>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {stats && (
        <>
          <dl class="cards">
            <div>
              <dt>Events (last {range})</dt>
              <dd data-testid="total-events">{number(stats.totals.events)}</dd>
            </div>
            <div>
              <dt>Profiles</dt>
              <dd data-testid="total-profiles">{number(stats.totals.profiles)}</dd>
            </div>
            <div>
              <dt>Merges</dt>
              <dd data-testid="total-merges">{number(stats.totals.merges)}</dd>
            </div>
            <div>
              <dt>Rejected (since start)</dt>
              <dd data-testid="total-rejected">{number(stats.totals.rejected)}</dd>
            </div>
          </dl>
          <section>
            <h2>Events per minute</h2>
            <EventsChart stats={stats} />
          </section>
          <div class="columns">
            <section>
              <h2>Top events</h2>
              {stats.topEvents.length === 0 ? (
                <p class="muted">No events in this range.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Type</th>
                      <th scope="col">Name</th>
                      <th scope="col" class="num">
                        Events
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {stats.topEvents.map((t) => (
                      <tr>
                        <td>
                          <span class={`badge ${t.type}`}>{t.type}</span>
                        </td>
                        <td>{t.name ?? '—'}</td>
                        <td class="num">{number(t.events)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section>
              <h2>Rejected by reason</h2>
              {Object.keys(stats.rejected.byCode).length === 0 ? (
                <p class="muted">No event rejected since the collector started.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Code</th>
                      <th scope="col" class="num">
                        Events
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(stats.rejected.byCode).map(([code, n]) => (
                      <tr>
                        <td>
                          <code>{code}</code>
                        </td>
                        <td class="num">{number(n)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </div>
        </>
      )}
      <section>
        <h2>Sources</h2>
        {sources.map((s) => (
          <article class="source-card">
            <h3>{s.name}</h3>
            <p>
              Write key (public, for SDKs): <code>{s.writeKey}</code>
            </p>
            <Snippet label="Script tag" text={scriptTagSnippet(s.writeKey)} />
            <Snippet label="Node" text={nodeSnippet(s.writeKey)} />
          </article>
        ))}
      </section>
    </main>
  );
}
