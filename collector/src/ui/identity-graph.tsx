import type { IdentityEntry, Profile } from './api.js';
import { isolate, timeOf } from './format.js';

/** Identifier keys in history entries are "type:value" (see identity/resolve.ts). */
const splitKey = (key: string) => {
  const at = key.indexOf(':');
  return { type: key.slice(0, at), value: key.slice(at + 1) };
};

const short = (s: string, max = 22) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

interface Node {
  key: string;
  type: string;
  value: string;
  x: number;
  y: number;
  outside: boolean;
  note: string;
}

/**
 * Identifiers around their profile: a line from each identifier to the profile, a dashed line for
 * each link that merged two profiles, and a red crossed line for each refused link (to an
 * identifier of another person, drawn outside the ring).
 */
export function IdentityGraph(props: { profile: Profile; identity: IdentityEntry[] }) {
  const { profile, identity } = props;
  const width = 640;
  const height = 360;
  const cx = width / 2;
  const cy = height / 2;
  const ring = Math.min(cx, cy) - 60;
  const nodes = new Map<string, Node>();
  const ids = profile.identifiers;
  ids.forEach((id, i) => {
    const angle = (2 * Math.PI * i) / ids.length - Math.PI / 2;
    const partial = id.periods?.some((p) => p.to !== null);
    nodes.set(`${id.type}:${id.value}`, {
      key: `${id.type}:${id.value}`,
      type: id.type,
      value: id.value,
      x: cx + ring * Math.cos(angle) * 1.45,
      y: cy + ring * Math.sin(angle),
      outside: false,
      note: partial ? 'part of the time' : '',
    });
  });
  const merges = identity.filter((e) => e.kind === 'merge' && Array.isArray(e.link));
  const refused = identity.filter((e) => e.kind === 'refused_two_user_ids' && Array.isArray(e.link));
  let outsideIndex = 0;
  for (const r of refused) {
    for (const key of r.link as string[]) {
      if (nodes.has(key)) continue;
      const { type, value } = splitKey(key);
      nodes.set(key, {
        key,
        type,
        value,
        x: width - 90,
        y: 40 + outsideIndex++ * 60,
        outside: true,
        note: 'another person',
      });
    }
  }
  const label = `Identity graph of ${profile.id}: ${ids.length} identifiers, ${merges.length} merges, ${refused.length} refused links.`;
  return (
    <figure class="graph">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        {[...nodes.values()]
          .filter((n) => !n.outside)
          .map((n) => (
            <line x1={cx} y1={cy} x2={n.x} y2={n.y} class="edge-member" />
          ))}
        {merges.map((m) => {
          const [a, b] = (m.link as string[]).map((k) => nodes.get(k));
          if (!a || !b) return null;
          return (
            <g class="edge-merge">
              <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} />
              <text x={(a.x + b.x) / 2} y={(a.y + b.y) / 2 - 6} text-anchor="middle">
                merged {timeOf(m.timestamp)}
              </text>
            </g>
          );
        })}
        {refused.map((r) => {
          const [a, b] = (r.link as string[]).map((k) => nodes.get(k));
          if (!a || !b) return null;
          const mx = (a.x + b.x) / 2;
          const my = (a.y + b.y) / 2;
          return (
            <g class="edge-refused">
              <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} />
              <path d={`M${mx - 6} ${my - 6} L${mx + 6} ${my + 6} M${mx + 6} ${my - 6} L${mx - 6} ${my + 6}`} />
              <text x={mx} y={my - 10} text-anchor="middle">
                refused
              </text>
            </g>
          );
        })}
        <g class="node-profile">
          <circle cx={cx} cy={cy} r={40} />
          <text x={cx} y={cy - 2} text-anchor="middle">
            profile
          </text>
          <text x={cx} y={cy + 12} text-anchor="middle" class="small">
            {short(profile.id, 12)}
          </text>
        </g>
        {[...nodes.values()].map((n) => (
          <g class={`node ${n.type}${n.outside ? ' outside' : ''}`}>
            <title>{`${n.type}: ${isolate(n.value)}${n.note ? ` (${n.note})` : ''}`}</title>
            <rect x={n.x - 78} y={n.y - 18} width={156} height={36} rx={8} />
            <text x={n.x} y={n.y - 3} text-anchor="middle" class="small">
              {n.type}
              {n.note ? ` · ${n.note}` : ''}
            </text>
            <text x={n.x} y={n.y + 11} text-anchor="middle">
              {short(n.value)}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>
        <span class="key member">belongs to the profile</span> <span class="key merge">link that merged profiles</span>{' '}
        <span class="key refused">link refused</span>
      </figcaption>
    </figure>
  );
}
