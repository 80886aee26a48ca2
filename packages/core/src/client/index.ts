export type { JobError, Job, JobCounters, JobPhase, JobStatus, LogEntry, LogLevel, SyncMode } from '../job/job';
export { isTerminalStatus, isActiveStatus, isUuid, percentOf, processedCount } from '../job/job';
export type {
  ApplyEventOptions,
  CancelledEvent,
  CompletedEvent,
  FailedEvent,
  InterruptedEvent,
  JobProgress,
  JobViewState,
  LogEvent,
  ProgressEvent,
  SnapshotEvent,
  StatusEvent,
  SyncEvent,
  SyncEventType,
  TerminalEvent,
} from '../events/syncEvents';
export { applyEvent, applyEvents, emptyJobViewState, isTerminalEvent, terminalEventOf } from '../events/syncEvents';
export type { SyncErrorCode } from '../errors';
