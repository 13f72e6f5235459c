/**
 * The figures' definitions (docs/architecture.md "Definitions"), in one place so the server's live
 * figures, the lab and the reports judge a window the same way.
 */
import { RESOURCES, type Resource, type ResourceStats } from './contracts.js';

/** The target band (SPEC: "within ±10 % of the average"). */
export const BAND = 0.1;

/**
 * In band: in one window, every resource has min ≥ (1 − BAND)·avg and max ≤ (1 + BAND)·avg
 * (an idle window, all zeros, is).
 */
export function windowInBand(w: Record<Resource, ResourceStats>): boolean {
  return RESOURCES.every((r) => w[r].min >= (1 - BAND) * w[r].average && w[r].max <= (1 + BAND) * w[r].average);
}
