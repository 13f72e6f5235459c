/**
 * The traffic curve `s(t) = base + amplitude·sin((t − phase)·2π / period)`. At defaults (1.5, 0.5,
 * 20 000, 500) this is docs/simulation.md's `1.5 + 0.5·sin((t − 500)·π / 10000)`, between 1 and 2.
 */
export interface TrafficCurve {
  base: number;
  amplitude: number;
  period: number;
  phase: number;
}

export function trafficScale(curve: TrafficCurve, tick: number): number {
  return curve.base + curve.amplitude * Math.sin(((tick - curve.phase) * 2 * Math.PI) / curve.period);
}
