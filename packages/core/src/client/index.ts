export type { SyncErrorCode } from '../errors';
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
export {
  applyEvent,
  applyEvents,
  emptyJobViewState,
  isTerminalEvent,
  terminalEventOf,
} from '../events/syncEvents';
export type {
  Job,
  JobCounters,
  JobError,
  JobPhase,
  JobStatus,
  LogEntry,
  LogLevel,
  SyncMode,
} from '../job/job';
export { isActiveStatus, isTerminalStatus, isUuid, percentOf, processedCount } from '../job/job';
