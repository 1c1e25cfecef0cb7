// The API key this tab holds: kept in sessionStorage only (never the URL, never
// localStorage), so it lasts as long as the tab and no other tab or site sees it. api.ts
// sends it as a bearer token; a 401 to a request made with the key held now drops it and
// tells the page why, to ask for another.

const STORAGE_KEY = "vulcan.apiKey";

/** Told why a key was refused; `null` when there was no key to refuse. */
type RefusedListener = (reason: string | null) => void;

let listener: RefusedListener = () => {};

export function heldKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function holdKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

export function onKeyRefused(next: RefusedListener): void {
  listener = next;
}

/**
 * The agent answered 401 to a request sent with `sentKey`. An answer to a key the tab no
 * longer holds (one replaced while the request was on its way) changes nothing.
 */
export function keyRefused(sentKey: string | null, reason: string): void {
  if (sentKey !== heldKey()) return;
  if (sentKey === null) {
    listener(null);
    return;
  }
  forgetKey();
  listener(reason);
}
