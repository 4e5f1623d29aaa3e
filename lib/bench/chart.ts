/**
 * The benchmark chart: compression ratio (y) against speed (x): time until
 * every tensor is usable, as logical MB/s (`usableMBps`; a zero-copy map
 * counts as what it is, not as a slow read), or read throughput for points
 * without it,
 * one point per configuration, the Pareto front drawn as a dashed line with
 * its points ringed, labels placed so they do not overlap. Plain SVG 1.1,
 * no scripts or external fonts, so it renders the same in browsers, GitHub
 * and rsvg-convert.
 */

export interface ChartPoint {
  config: string;
  compression: string;
  shuffle: boolean;
  ratio: number;
  readMBps: number;
  /** Logical MB/s until every tensor is usable (views where possible); the x axis when given. */
  usableMBps?: number;
  pareto: boolean;
}

export interface ChartOptions {
  title?: string;
  subtitle?: string;
  /** Lines for the side panel (recommendations). */
  notes?: string[];
}

const FAMILY_COLOURS: Record<string, string> = {
  none: '#6b7280',
  gzip: '#2563eb',
  lzf: '#d97706',
  lz4: '#059669',
  zstd: '#dc2626',
  blosc: '#0891b2',
  szip: '#9333ea',
};

const W = 900;
const H = 560;
const M = { left: 78, right: 230, top: 72, bottom: 64 };
const FONT = "font-family=\"'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif\"";
const CHAR_W = 6.6; // average advance of a 12 px sans-serif glyph, for label boxes

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function fmt(n: number): string {
  return Number(n.toFixed(2)).toString();
}

/** Nice linear ticks (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** 1-2-5 ticks for a log axis (1-2-3-5 when that leaves too few to read values off). */
function logTicks(lo: number, hi: number): number[] {
  const pick = (ks: number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const k of ks) {
        const v = k * 10 ** e;
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    return out;
  };
  const t = pick([1, 2, 5]);
  return t.length >= 4 ? t : pick([1, 1.5, 2, 3, 5, 7]);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** The x value of a point: time-to-usable speed when known, else read speed. */
const speedOf = (p: ChartPoint) => p.usableMBps ?? p.readMBps;

export function renderChart(points: readonly ChartPoint[], options: ChartOptions = {}): string {
  const byUsable = points.some((p) => p.usableMBps !== undefined);
  const pts = points
    .filter((p) => Number.isFinite(p.ratio) && Number.isFinite(speedOf(p)) && speedOf(p) > 0)
    .map((p) => ({ ...p, readMBps: speedOf(p) }));
  const px0 = M.left;
  const px1 = W - M.right;
  const py0 = M.top;
  const py1 = H - M.bottom;

  // x: MB/s (usable or read). Log scale once the spread is large, else points bunch up.
  const xs = pts.map((p) => p.readMBps);
  let xmin = Math.min(...xs, Infinity);
  let xmax = Math.max(...xs, -Infinity);
  if (!Number.isFinite(xmin)) [xmin, xmax] = [1, 10];
  const logX = xmax / xmin > 6;
  let xlo: number, xhi: number;
  if (logX) {
    xlo = xmin / 1.35;
    xhi = xmax * 1.35;
  } else {
    const pad = (xmax - xmin) * 0.12 || xmax * 0.2 || 1;
    xlo = Math.max(0, xmin - pad);
    xhi = xmax + pad;
  }
  const sx = (v: number) =>
    logX
      ? px0 + ((Math.log(v) - Math.log(xlo)) / (Math.log(xhi) - Math.log(xlo))) * (px1 - px0)
      : px0 + ((v - xlo) / (xhi - xlo)) * (px1 - px0);

  // y: ratio, always including 1.0 (the "no gain" line).
  const ys = pts.map((p) => p.ratio);
  const ymin = Math.min(1, ...ys);
  const ymax = Math.max(1, ...ys);
  const ypad = (ymax - ymin) * 0.12 || 0.05;
  const ylo = ymin - ypad;
  const yhi = ymax + ypad;
  const sy = (v: number) => py1 - ((v - ylo) / (yhi - ylo)) * (py1 - py0);

  const clip = (t: string, max: number) => (t.length > max ? `${t.slice(0, max - 1)}…` : t);
  const title = clip(options.title ?? 'Compression ratio vs read throughput', 78);
  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`,
  );
  o.push(`<title>${escapeXml(title)}</title>`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${px0}" y="28" font-size="17" font-weight="bold" fill="#111827">${escapeXml(title)}</text>`);
  if (options.subtitle)
    o.push(`<text x="${px0}" y="48" font-size="12" fill="#4b5563">${escapeXml(clip(options.subtitle, 120))}</text>`);

  // Grid and axes.
  o.push(`<g stroke="#e5e7eb" stroke-width="1">`);
  const xt = logX ? logTicks(xlo, xhi) : linearTicks(xlo, xhi);
  const yt = linearTicks(ylo, yhi);
  for (const v of xt) o.push(`<line x1="${fmt(sx(v))}" y1="${py0}" x2="${fmt(sx(v))}" y2="${py1}"/>`);
  for (const v of yt) o.push(`<line x1="${px0}" y1="${fmt(sy(v))}" x2="${px1}" y2="${fmt(sy(v))}"/>`);
  o.push(`</g>`);
  if (ylo < 1 && yhi > 1) {
    o.push(
      `<line x1="${px0}" y1="${fmt(sy(1))}" x2="${px1}" y2="${fmt(sy(1))}" stroke="#9ca3af" stroke-width="1" stroke-dasharray="2 3"/>`,
    );
    o.push(`<text x="${px0 + 4}" y="${fmt(sy(1) - 4)}" font-size="10" fill="#6b7280">ratio 1 = no saving</text>`);
  }
  o.push(`<rect x="${px0}" y="${py0}" width="${px1 - px0}" height="${py1 - py0}" fill="none" stroke="#9ca3af"/>`);
  o.push(`<g fill="#374151" font-size="11">`);
  for (const v of xt)
    o.push(
      `<text x="${fmt(sx(v))}" y="${py1 + 16}" text-anchor="middle">${escapeXml(v >= 1000 ? `${fmt(v / 1000)}k` : fmt(v))}</text>`,
    );
  for (const v of yt) o.push(`<text x="${px0 - 8}" y="${fmt(sy(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  o.push(`</g>`);
  const xLabel = byUsable ? 'Time to every tensor usable, as MB/s (views where possible)' : 'Read throughput, MB/s';
  o.push(
    `<text x="${(px0 + px1) / 2}" y="${H - 18}" text-anchor="middle" fill="#111827">${xLabel}${logX ? ' (log scale)' : ''} — higher is faster →</text>`,
  );
  o.push(
    `<text transform="translate(20 ${(py0 + py1) / 2}) rotate(-90)" text-anchor="middle" fill="#111827">Compression ratio (logical / stored) — higher is smaller →</text>`,
  );

  // Pareto front: dashed line through the front, sorted by speed.
  const front = pts.filter((p) => p.pareto).sort((a, b) => a.readMBps - b.readMBps);
  if (front.length > 1) {
    const d = front.map((p) => `${fmt(sx(p.readMBps))},${fmt(sy(p.ratio))}`).join(' ');
    o.push(
      `<polyline points="${d}" fill="none" stroke="#111827" stroke-width="1.5" stroke-dasharray="6 4" opacity="0.7"/>`,
    );
  }

  // Marker positions: a point that would cover an earlier one (same or close
  // values, e.g. none and szip on incompressible weights) is moved along a
  // small circle around its true position until it is clear; a thin line
  // joins it to the true position, and its tooltip keeps the true values.
  const pos = new Map<ChartPoint, { x: number; y: number; moved: boolean }>();
  const placed: { x: number; y: number }[] = [];
  const MIN_GAP = 13; // two 5.5 px dots with their 9.5 px front rings do not touch
  for (const p of [...pts].sort((a, b) => Number(b.pareto) - Number(a.pareto))) {
    const x0 = sx(p.readMBps);
    const y0 = sy(p.ratio);
    let at = { x: x0, y: y0 };
    const clear = (q: { x: number; y: number }) => placed.every((o) => Math.hypot(o.x - q.x, o.y - q.y) >= MIN_GAP);
    for (let k = 0; !clear(at) && k < 48; k++) {
      const ring = MIN_GAP * (1 + Math.floor(k / 8));
      const a = (Math.PI / 4) * (k % 8) + Math.PI / 8;
      at = { x: x0 + ring * Math.cos(a), y: y0 + ring * Math.sin(a) };
    }
    placed.push(at);
    pos.set(p, { ...at, moved: at.x !== x0 || at.y !== y0 });
  }
  const px = (p: ChartPoint) => pos.get(p)!.x;
  const py = (p: ChartPoint) => pos.get(p)!.y;

  // Points, then labels placed greedily away from points and earlier labels.
  const taken: Box[] = pts.map((p) => {
    const r = p.pareto ? 11 : 8; // the front's ring is wider than the dot
    return { x: px(p) - r, y: py(p) - r, w: 2 * r, h: 2 * r };
  });
  // Labels must not sit on the front line either: block small boxes along it.
  for (let i = 1; i < front.length; i++) {
    const [x0, y0, x1, y1] = [
      sx(front[i - 1]!.readMBps),
      sy(front[i - 1]!.ratio),
      sx(front[i]!.readMBps),
      sy(front[i]!.ratio),
    ];
    const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 5);
    for (let k = 0; k <= steps; k++) {
      taken.push({ x: x0 + ((x1 - x0) * k) / steps - 2, y: y0 + ((y1 - y0) * k) / steps - 2, w: 4, h: 4 });
    }
  }
  // Keep labels off the "ratio 1" caption.
  if (ylo < 1 && yhi > 1) taken.push({ x: px0 + 2, y: sy(1) - 14, w: 19 * 5.6 + 4, h: 12 });
  const plot: Box = { x: px0 + 2, y: py0 + 2, w: px1 - px0 - 4, h: py1 - py0 - 4 };
  const inside = (b: Box) =>
    b.x >= plot.x && b.y >= plot.y && b.x + b.w <= plot.x + plot.w && b.y + b.h <= plot.y + plot.h;
  const labels: string[] = [];
  const leaders: string[] = [];
  // Place labels for front points first: they matter most.
  const order = [...pts].sort((a, b) => Number(b.pareto) - Number(a.pareto) || b.ratio - a.ratio);
  for (const p of order) {
    const cx = px(p);
    const cy = py(p);
    const w = p.config.length * CHAR_W * (p.pareto ? 1.1 : 1) + 4; // bold runs wider
    const h = 14;
    let best: Box | undefined;
    let far = false;
    for (const dist of [10, 22, 36, 52]) {
      const cands: Box[] = [
        { x: cx + dist, y: cy - h / 2, w, h },
        { x: cx - dist - w, y: cy - h / 2, w, h },
        { x: cx - w / 2, y: cy - dist - h + 2, w, h },
        { x: cx - w / 2, y: cy + dist - 2, w, h },
        { x: cx + dist * 0.7, y: cy - dist * 0.7 - h, w, h },
        { x: cx + dist * 0.7, y: cy + dist * 0.7, w, h },
        { x: cx - dist * 0.7 - w, y: cy - dist * 0.7 - h, w, h },
        { x: cx - dist * 0.7 - w, y: cy + dist * 0.7, w, h },
      ];
      best = cands.find((b) => inside(b) && !taken.some((t) => overlaps(t, b)));
      if (best) {
        far = dist > 10;
        break;
      }
    }
    // Crowded: accept the right-hand spot even if it overlaps, rather than dropping a label.
    best ??= { x: Math.min(cx + 10, plot.x + plot.w - w), y: cy - h / 2, w, h };
    taken.push(best);
    if (far) {
      const lx = Math.max(best.x, Math.min(cx, best.x + best.w));
      const ly = Math.max(best.y, Math.min(cy, best.y + best.h));
      leaders.push(
        `<line x1="${fmt(cx)}" y1="${fmt(cy)}" x2="${fmt(lx)}" y2="${fmt(ly)}" stroke="#9ca3af" stroke-width="0.8"/>`,
      );
    }
    labels.push(
      `<text x="${fmt(best.x + 2)}" y="${fmt(best.y + h - 3)}" fill="#111827"${p.pareto ? ' font-weight="bold"' : ''}>${escapeXml(p.config)}</text>`,
    );
  }
  o.push(...leaders);
  for (const p of pts) {
    if (pos.get(p)!.moved) {
      o.push(
        `<line class="dodge" x1="${fmt(sx(p.readMBps))}" y1="${fmt(sy(p.ratio))}" x2="${fmt(px(p))}" y2="${fmt(py(p))}" stroke="#6b7280" stroke-width="0.8"/>`,
      );
    }
  }
  for (const p of pts) {
    const colour = FAMILY_COLOURS[p.compression] ?? '#111827';
    const cx = fmt(px(p));
    const cy = fmt(py(p));
    if (p.pareto) o.push(`<circle cx="${cx}" cy="${cy}" r="9.5" fill="none" stroke="#111827" stroke-width="1.5"/>`);
    o.push(
      `<circle class="point" data-config="${escapeXml(p.config)}" cx="${cx}" cy="${cy}" r="5.5" fill="${p.shuffle || p.compression === 'none' ? colour : '#ffffff'}" stroke="${colour}" stroke-width="2">` +
        `<title>${escapeXml(`${p.config}: ratio ${p.ratio.toFixed(3)}, ${byUsable ? 'usable at' : 'read'} ${p.readMBps.toFixed(0)} MB/s${pos.get(p)!.moved ? ' (marker moved off an overlapping one)' : ''}`)}</title></circle>`,
    );
  }
  o.push(`<g font-size="12">`, ...labels, `</g>`);

  // Side panel: legend and notes.
  const lx = px1 + 20;
  let ly = py0 + 6;
  o.push(`<g font-size="12" fill="#111827">`);
  o.push(`<text x="${lx}" y="${ly}" font-weight="bold">Codec</text>`);
  ly += 8;
  const families = Object.keys(FAMILY_COLOURS).filter((f) => pts.some((p) => p.compression === f));
  for (const f of families) {
    ly += 18;
    o.push(
      `<circle cx="${lx + 6}" cy="${ly - 4}" r="5.5" fill="${FAMILY_COLOURS[f]}" stroke="${FAMILY_COLOURS[f]}" stroke-width="2"/>`,
    );
    o.push(`<text x="${lx + 18}" y="${ly}">${f}</text>`);
  }
  ly += 26;
  o.push(`<circle cx="${lx + 6}" cy="${ly - 4}" r="5.5" fill="#6b7280" stroke="#6b7280" stroke-width="2"/>`);
  o.push(`<text x="${lx + 18}" y="${ly}">with shuffle</text>`);
  ly += 18;
  o.push(`<circle cx="${lx + 6}" cy="${ly - 4}" r="5.5" fill="#ffffff" stroke="#6b7280" stroke-width="2"/>`);
  o.push(`<text x="${lx + 18}" y="${ly}">without shuffle</text>`);
  ly += 18;
  o.push(`<circle cx="${lx + 6}" cy="${ly - 4}" r="9.5" fill="none" stroke="#111827" stroke-width="1.5"/>`);
  o.push(`<text x="${lx + 18}" y="${ly}">Pareto front</text>`);
  ly += 8;
  for (const n of options.notes ?? []) {
    ly += 24;
    // Wrap notes to the panel width.
    const words = n.split(' ');
    let line = '';
    const maxChars = Math.floor((W - lx - 8) / CHAR_W);
    for (const wd of words) {
      if (`${line} ${wd}`.trim().length > maxChars) {
        o.push(`<text x="${lx}" y="${ly}">${escapeXml(line)}</text>`);
        ly += 16;
        line = wd;
      } else {
        line = `${line} ${wd}`.trim();
      }
    }
    if (line) o.push(`<text x="${lx}" y="${ly}">${escapeXml(line)}</text>`);
  }
  o.push(`</g>`);
  o.push(`</svg>`);
  return `${o.join('\n')}\n`;
}
