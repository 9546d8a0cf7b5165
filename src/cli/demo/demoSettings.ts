/**
 * What the demo sets differently from the library's defaults, and says so on screen. A 30 s demo would never
 * show aging with the default of 60 s: waiting low and normal requests move up a tier after 5 s here.
 */
export const DEMO_SETTINGS = { agingMs: 5_000 } as const;
