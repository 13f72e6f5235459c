/**
 * The monitor: collects one sample per tick per resource and aggregates them into a window every
 * `windowTicks` ticks, aligned with ticks (the allowed improvement over the reference's wall-clock
 * timer). Average is sum / count truncated toward zero; a window with no samples is all zeros.
 */
import type { ResourceStats } from '../common/contracts.js';

export interface Sample {
  cpu: number;
  io: number;
  memory: number;
}

class Accumulator {
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  add(value: number): void {
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  result(count: number): ResourceStats {
    if (count === 0) return { average: 0, min: 0, max: 0 };
    return { average: Math.trunc(this.sum / count), min: this.min, max: this.max };
  }
}

export interface Aggregate {
  samples: number;
  cpu: ResourceStats;
  io: ResourceStats;
  memory: ResourceStats;
}

export class Monitor {
  private count = 0;
  private cpu = new Accumulator();
  private io = new Accumulator();
  private memory = new Accumulator();

  record(sample: Sample): void {
    this.count++;
    this.cpu.add(sample.cpu);
    this.io.add(sample.io);
    this.memory.add(sample.memory);
  }

  /** Aggregates the samples since the last call and starts over. */
  flush(): Aggregate {
    const out: Aggregate = {
      samples: this.count,
      cpu: this.cpu.result(this.count),
      io: this.io.result(this.count),
      memory: this.memory.result(this.count),
    };
    this.count = 0;
    this.cpu = new Accumulator();
    this.io = new Accumulator();
    this.memory = new Accumulator();
    return out;
  }
}
