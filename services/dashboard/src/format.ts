const nf = new Intl.NumberFormat("en");
export const num = (n: number | null | undefined) => (n === null || n === undefined ? "–" : nf.format(n));
export const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;
export const bytes = (n: number) => {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
};
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" }) : "–");
export const short = (id: string) => id.slice(0, 8);
export const TERMINAL = ["succeeded", "failed", "cancelled"];
/** A duration in seconds as "1 h 02 min", "3 min 05 s" or "12 s". */
export const duration = (s: number | null | undefined) => {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h} h ${pad(m)} min` : m ? `${m} min ${pad(sec)} s` : `${sec} s`;
};
