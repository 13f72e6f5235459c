import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { InvalidRecordError, classifyFailure, describeFailure } from '../../clickhouse/index.js';

const ch = (code: string, type: string) =>
  new ClickHouseError({ message: `${type} happened\nmore context`, code, type });

describe('classifyFailure', () => {
  it('calls data errors permanent', () => {
    expect(classifyFailure(ch('376', 'CANNOT_PARSE_UUID'))).toBe('permanent');
    expect(classifyFailure(ch('53', 'TYPE_MISMATCH'))).toBe('permanent');
    expect(classifyFailure(ch('469', 'VIOLATED_CONSTRAINT'))).toBe('permanent');
    expect(classifyFailure(new InvalidRecordError('x', 'bad'))).toBe('permanent');
  });

  it('calls connection failures and server-state errors transient', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    expect(classifyFailure(refused)).toBe('transient');
    expect(classifyFailure(new Error('Timeout error.'))).toBe('transient');
    expect(classifyFailure(ch('252', 'TOO_MANY_PARTS'))).toBe('transient');
    expect(classifyFailure(ch('60', 'UNKNOWN_TABLE'))).toBe('transient');
    expect(classifyFailure('a string')).toBe('transient');
  });

  it('calls other ClickHouse errors unknown', () => {
    expect(classifyFailure(ch('1001', 'STD_EXCEPTION'))).toBe('unknown');
    expect(classifyFailure(ch('999999', ''))).toBe('unknown');
  });
});

describe('describeFailure', () => {
  it('keeps the error name and the first line', () => {
    expect(describeFailure(ch('376', 'CANNOT_PARSE_UUID'))).toBe('CANNOT_PARSE_UUID: CANNOT_PARSE_UUID happened');
    expect(describeFailure(new Error('boom\nstack'))).toBe('boom');
  });
});
