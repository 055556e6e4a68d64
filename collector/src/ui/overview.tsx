import { useEffect, useState } from 'preact/hooks';
import type { AdminApi, Source, Stats } from './api.js';
import { number } from './format.js';
import { nodeSnippet, Snippet, scriptTagSnippet } from './snippets.js';

const REFRESH_MS = 10_000;

/**
 * Events per minute as bars in an SVG (no chart library, nothing to load from elsewhere). The SVG
 * stretches to any width; labels are HTML around it so they stay readable on a phone.
 */
function EventsChart(props: { stats: Stats }) {
  const { buckets, range } = props.stats;
  const n = Math.max(1, buckets.length);
  const max = Math.max(1, ...buckets.map((b) => b.events));
  const tickEvery = range === 'hour' ? 10 : 180;
  const clock = (iso: string, seconds = false) =>
    new Date(iso).toLocaleTimeString(undefined, {
      hour: '2-digit',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
      hour12: false,
    });
  const total = buckets.reduce((s, b) => s + b.events, 0);
  const peak = buckets.reduce((p, b) => (b.events > p.events ? b : p), buckets[0] ?? { start: '', events: 0 });
  const summary = `Events per minute over the last ${range}: ${number(total)} in total, at most ${number(max)} in one minute${
    peak.events > 0 ? ` (${clock(peak.start)})` : ''
  }.`;
  return (
    <figure class="chart">
      <div class="chart-plot">
        <span class="y-max">{number(max)}</span>
        <span class="y-zero">0</span>
        <svg viewBox={`0 0 ${n} 100`} preserveAspectRatio="none" role="img" aria-label={summary}>
          <line x1={0} x2={n} y1={0.5} y2={0.5} class="grid" vector-effect="non-scaling-stroke" />
          {buckets.map((b, i) =>
            b.events > 0 ? (
              <rect
                x={i + 0.1}
                width={0.8}
                y={100 - (100 * b.events) / max}
                height={(100 * b.events) / max}
                class="bar"
              >
                <title>{`${clock(b.start)}: ${number(b.events)}`}</title>
              </rect>
            ) : null,
          )}
          <line x1={0} x2={n} y1={100} y2={100} class="axis" vector-effect="non-scaling-stroke" />
        </svg>
      </div>
      <div class="x-ticks" aria-hidden="true">
        {buckets.map((b, i) =>
          i % tickEvery === 0 ? (
            <span class="x-tick" style={{ left: `${(100 * i) / n}%` }}>
              {clock(b.start)}
            </span>
          ) : null,
        )}
      </div>
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
                        <td>{t.name === null ? '—' : <bdi>{t.name}</bdi>}</td>
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
            <h3>
              <bdi>{s.name}</bdi>
            </h3>
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
