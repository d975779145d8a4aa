// Dates, durations and token states, written for people.

const DAY_MS = 86400000;
export const EXPIRING_SOON_MS = 7 * DAY_MS;

function pad(number) {
  return String(number).padStart(2, '0');
}

// "2026-03-01 05:00 UTC": one unambiguous form everywhere.
export function formatDate(value) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`
  );
}

// "in 3 days", "5 minutes ago".
export function relative(value, now = Date.now()) {
  if (!value) return '';
  const delta = new Date(value).getTime() - now;
  const abs = Math.abs(delta);
  const units = [
    ['year', 365 * DAY_MS],
    ['month', 30 * DAY_MS],
    ['day', DAY_MS],
    ['hour', 3600000],
    ['minute', 60000],
  ];
  for (const [unit, size] of units) {
    if (abs >= size) {
      const count = Math.floor(abs / size);
      const text = `${count} ${unit}${count === 1 ? '' : 's'}`;
      return delta >= 0 ? `in ${text}` : `${text} ago`;
    }
  }
  return delta >= 0 ? 'in less than a minute' : 'just now';
}

// "90 days", "12 hours", "45 seconds".
export function duration(seconds) {
  const units = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return `${count} ${unit}${count === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

// The state shown at a glance: expired, rotating (old side of a rotation
// overlap), expiring soon (within 7 days) or valid.
export function tokenState(token, now = Date.now()) {
  const expires = token.expirationDate ? new Date(token.expirationDate).getTime() : null;
  if (token.valid === false || (expires !== null && expires <= now)) {
    return { key: 'expired', label: 'Expired' };
  }
  if (token.rotatedTo) return { key: 'rotating', label: 'Rotating' };
  if (expires !== null && expires - now <= EXPIRING_SOON_MS) {
    return { key: 'expiring', label: 'Expiring soon' };
  }
  return { key: 'valid', label: 'Valid' };
}

// "YYYY-MM-DD" of a UTC instant, for date inputs.
export function dayOf(millis) {
  const date = new Date(millis);
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

// Epoch milliseconds of 00:00 UTC of a "YYYY-MM-DD" day; null when empty
// or malformed.
export function startOfDay(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day ?? '')) return null;
  const millis = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(millis) ? null : millis;
}
