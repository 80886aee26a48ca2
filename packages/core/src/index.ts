import * as storeHelpers from './store/syncStore';

export type { Clock, TimerHandle } from './clock';
export { fromIso, sleep, systemClock, toIso } from './clock';
export type { DefineSyncEngineOptions } from './engine/defineSyncEngine';
export { defineSyncEngine } from './engine/defineSyncEngine';
export type {
  StartInput,
  StartResult,
  StopOptions,
  SyncEngine,
  SyncEngineOptions,
} from './engine/engineTypes';
export { createSyncEngine } from './engine/syncEngine';
export type { WorkedJob, WorkOptions, WorkResult } from './engine/workSlice';
export { DEFAULT_WORK_MS, MIN_WORK_MS } from './engine/workSlice';
export type { SyncErrorCode, SyncErrorOptions } from './errors';
export {
  CancelledError,
  isSyncErrorLike,
  LeaseLostError,
  SYNC_ERROR_CODES,
  SyncError,
  toSyncError,
} from './errors';
export type { EtaEstimate, EtaEstimator, EtaEstimatorOptions } from './eta/etaEstimator';
export { createEtaEstimator } from './eta/etaEstimator';
export type { JobEventFeed, JobEventFeedEngine, JobEventFeedOptions } from './events/jobEventFeed';
export { openJobEventFeed } from './events/jobEventFeed';
export type {
  ApplyEventOptions,
  CancelledEvent,
  CompletedEvent,
  CycleEvent,
  FailedEvent,
  InterruptedEvent,
  JobProgress,
  JobViewState,
  LogEvent,
  ProgressEvent,
  QuotaEvent,
  SnapshotEvent,
  StatusEvent,
  SyncEngineEvents,
  SyncEvent,
  SyncEventType,
  TerminalEvent,
} from './events/syncEvents';
export {
  applyEvent,
  applyEvents,
  emptyJobViewState,
  isTerminalEvent,
  terminalEventOf,
} from './events/syncEvents';
export type {
  AccountKey,
  AccountState,
  ActiveJobStatus,
  Job,
  JobCounters,
  JobError,
  JobPhase,
  JobStatus,
  JobTrigger,
  JobWaiting,
  JobWaitReason,
  LogEntry,
  LogInput,
  LogLevel,
  RequestedSyncMode,
  SyncCheckpoint,
  SyncMode,
  TerminalJobStatus,
} from './job/job';
export {
  ACTIVE_STATUSES,
  emptyCounters,
  isActiveStatus,
  isTerminalStatus,
  isUuid,
  JOB_PHASES,
  JOB_STATUSES,
  JOB_WAIT_REASONS,
  newId,
  percentOf,
  processedCount,
  TERMINAL_STATUSES,
} from './job/job';
export type {
  DecideTransition,
  ExpiryPolicy,
  JobChange,
  JobTransition,
  NewJobInput,
} from './job/jobLifecycle';
export type { SyncLogger } from './logger';
export type { ProjectQuota, ProjectQuotaOptions, ProjectQuotaWait } from './quota/projectQuota';
export type { Duration } from './scheduler/duration';
export { parseDuration } from './scheduler/duration';
export type { ScheduleHandle, ScheduleOptions } from './scheduler/scheduler';
export type {
  CounterIncrements,
  RetryOptions,
  SourceBatch,
  SourceContext,
  SyncSource,
} from './source/syncSource';
export type { MemoryStoreOptions, MemoryTransaction } from './store/memoryStore';
export { createMemoryStore } from './store/memoryStore';
export type { LabelChange, MailLabel, MailMessage, SinkWrite, SyncSink } from './store/sink';
export { isEmptySinkWrite } from './store/sink';
export type {
  BatchCommit,
  ClaimedJob,
  ClaimInput,
  CreateJobInput,
  CreateJobResult,
  FinishInput,
  GetLogsQuery,
  JobWrite,
  Lease,
  ListJobsQuery,
  ListMessagesQuery,
  ListStagedQuery,
  MailDataReader,
  ProgressPatch,
  QuotaDemand,
  QuotaWindow,
  ReportQuotaDemandInput,
  StageChange,
  StagedItem,
  StoreCapabilities,
  StoreNotice,
  SyncStore,
  TakeQuotaInput,
  TakeQuotaResult,
} from './store/syncStore';

/** @deprecated Import from `@syncjob/core/store`; removed from the root in the next minor release. */
export const applyProgressPatch = storeHelpers.applyProgressPatch;
/** @deprecated Import from `@syncjob/core/store`; removed from the root in the next minor release. */
export const clampLimit = storeHelpers.clampLimit;
/** @deprecated Import from `@syncjob/core/store`; removed from the root in the next minor release. */
export const LIMITS = storeHelpers.LIMITS;
/** @deprecated Import from `@syncjob/core/store`; removed from the root in the next minor release. */
export const newLogEntries = storeHelpers.newLogEntries;
