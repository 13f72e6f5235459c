/**
 * The target band (SPEC: "within ±10 % of the average"): a window is in band when, for every
 * resource, min ≥ (1 − BAND)·avg and max ≤ (1 + BAND)·avg.
 */
export const BAND = 0.1;
