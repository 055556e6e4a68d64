/**
 * A few Prometheus metrics in the text exposition format. Small enough not to need a client
 * library; labels are fixed sets (never user input) so cardinality stays bounded.
 */
type Labels = Record<string, string>;

const labelKey = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { buckets: new Array(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.bounds.length; i++)
      if (value <= (this.bounds[i] as number)) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      for (let i = 0; i < this.bounds.length; i++) {
        lines.push(`${this.name}_bucket{${sep}le="${this.bounds[i]}"} ${s.buckets[i]}`);
      }
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Metrics {
  readonly accepted = new Counter('kimlik_events_accepted_total', 'Events stored (new or duplicate).');
  readonly rejected = new Counter('kimlik_events_rejected_total', 'Events refused, by reason code.');
  readonly deduplicated = new Counter(
    'kimlik_events_deduplicated_total',
    'Events already stored under the same messageId.',
  );
  readonly suppressed = new Counter(
    'kimlik_events_suppressed_total',
    'Events dropped because they carry an identifier of an erased profile.',
  );
  readonly identityFailures = new Counter(
    'kimlik_identity_failures_total',
    'Events whose identity failed alone and was set aside (stored, not attributed to a profile).',
  );
  readonly overloaded = new Counter(
    'kimlik_requests_overloaded_total',
    'Requests answered 429 because the ingest queue was full.',
  );
  readonly responses = new Counter(
    'kimlik_http_responses_total',
    'HTTP answers by route (the template, or "unmatched") and status code.',
  );
  readonly requestSeconds = new Histogram(
    'kimlik_http_request_duration_seconds',
    'HTTP request latency by route.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  readonly commitEvents = new Histogram(
    'kimlik_commit_batch_events',
    'Events per database commit (group commit size).',
    [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000],
  );
  readonly commitSeconds = new Histogram(
    'kimlik_commit_duration_seconds',
    'Time to write and commit one group.',
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  private readonly gauges: Gauge[] = [];

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.push(new Gauge(name, help, read));
  }

  render(): string {
    const parts = [
      this.accepted,
      this.rejected,
      this.deduplicated,
      this.suppressed,
      this.identityFailures,
      this.overloaded,
      this.responses,
      this.requestSeconds,
      this.commitEvents,
      this.commitSeconds,
      ...this.gauges,
    ];
    return `${parts.map((p) => p.render()).join('\n')}\n`;
  }
}
