import { describe, expectTypeOf, it } from 'vitest';
import type { SyncEngine } from '../engine/engineTypes';
import { createSyncEngine } from '../engine/syncEngine';
import type { Job, LogEntry } from '../job/job';
import { createMemoryStore } from '../store/memoryStore';
import { createTestSource } from '../testing/testSource';
import type {
  CancelledEvent,
  CompletedEvent,
  FailedEvent,
  InterruptedEvent,
  JobProgress,
  LogEvent,
  ProgressEvent,
  StatusEvent,
  SyncEngineEvents,
} from './syncEvents';

// Checked by `tsc` (the file is part of the package's typecheck); at run time the assertions are no-ops.
describe('the engine’s typed event map', () => {
  const engine = createSyncEngine({
    store: createMemoryStore(),
    sources: [createTestSource()],
    worker: false,
  });

  it('gives each listener its event type', () => {
    expectTypeOf(engine).toEqualTypeOf<SyncEngine>();
    engine.on('progress', (event) => {
      expectTypeOf(event).toEqualTypeOf<ProgressEvent>();
      expectTypeOf(event.type).toEqualTypeOf<'progress'>();
      expectTypeOf(event.progress).toEqualTypeOf<JobProgress>();
      expectTypeOf(event.progress.etaSeconds).toEqualTypeOf<number | null>();
      expectTypeOf(event.progress.percent).toEqualTypeOf<number | null>();
    });
    engine.on('status', (event) => {
      expectTypeOf(event).toEqualTypeOf<StatusEvent>();
      expectTypeOf(event.job).toEqualTypeOf<Job>();
    });
    engine.on('log', (event) => {
      expectTypeOf(event).toEqualTypeOf<LogEvent>();
      expectTypeOf(event.entry).toEqualTypeOf<LogEntry>();
      expectTypeOf(event.entry.seq).toBeNumber();
    });
    engine.on('completed', (event) => {
      expectTypeOf(event).toEqualTypeOf<CompletedEvent>();
      expectTypeOf(event.type).toEqualTypeOf<'completed'>();
    });
    engine.on('failed', (event) => {
      expectTypeOf(event).toEqualTypeOf<FailedEvent>();
      expectTypeOf(event.job.error).toEqualTypeOf<Job['error']>();
    });
    engine.once('cancelled', (event) => expectTypeOf(event).toEqualTypeOf<CancelledEvent>());
    engine.off('interrupted', (event) => expectTypeOf(event).toEqualTypeOf<InterruptedEvent>());
  });

  it('knows exactly the engine’s event names', () => {
    expectTypeOf<keyof SyncEngineEvents>().toEqualTypeOf<
      'status' | 'progress' | 'log' | 'completed' | 'failed' | 'cancelled' | 'interrupted' | 'cycle' | 'quota'
    >();
    expectTypeOf(engine.on).parameter(0).toEqualTypeOf<keyof SyncEngineEvents>();
    // @ts-expect-error: not an event of the engine.
    engine.on('finished', () => {});
    // @ts-expect-error: a progress listener does not receive a status event.
    engine.on('progress', (event: StatusEvent) => event);
  });

  it('types emit by event name', () => {
    expectTypeOf(engine.emit<'progress'>).parameters.toEqualTypeOf<['progress', ProgressEvent]>();
    // @ts-expect-error: a completed event must carry type 'completed'.
    engine.emit('completed', { type: 'failed', jobId: 'x', job: {} as Job });
  });
});
