// What the broker reports about its profiles: read by the server (/readyz), metrics and `check`.

export interface ProfileStatus {
  profile: string;
  /** ready: healthy credentials; stale: valid but the last refresh failed; empty: nothing valid. */
  state: 'ready' | 'stale' | 'empty';
  expiration: Date | undefined;
  nextAttemptAt: number | undefined;
  failures: number;
  lastError: { code: string; message: string } | undefined;
}

export interface Readiness {
  ready: boolean;
  profiles: Record<string, ProfileStatus & { lazy: boolean }>;
}
