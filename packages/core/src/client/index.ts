export type { StartInput, StartResult } from '../engine/engineTypes';
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
export type { HttpErrorCode } from '../http/httpError';
export type {
  AccountKey,
  Job,
  JobCounters,
  JobError,
  JobPhase,
  JobStatus,
  LogEntry,
  LogLevel,
  RequestedSyncMode,
  SyncMode,
} from '../job/job';
export { isActiveStatus, isTerminalStatus, isUuid, percentOf, processedCount } from '../job/job';
export { formatCount, formatDuration } from '../job/jobTexts';
export type { AccountEntryClient, AccountSnapshot, AccountWatcherClient } from './accountEntry';
export { AccountEntry, AccountWatcher } from './accountEntry';
export type { JobEntryOptions, JobObserverOptions, JobSnapshot } from './jobEntry';
export { JobEntry, JobObserver } from './jobEntry';
export type {
  CategoryBadge,
  JobActions,
  JobProgressBar,
  JobStat,
  LogWindow,
  SyncButtonIntent,
} from './jobPresentation';
export {
  categoryBadges,
  formatEta,
  formatLogTime,
  formatPercent,
  formatRate,
  formatRelativeTime,
  isCompletion,
  isJobStale,
  jobActions,
  jobAnnouncement,
  jobErrorText,
  jobProgressBar,
  jobStats,
  jobSubtitle,
  jobTitle,
  jobWaitText,
  logWindow,
  staleAt,
  syncButtonIntent,
  syncButtonLabel,
  syncStatusText,
} from './jobPresentation';
export type { ProgressViewClient, ProgressViewSnapshot, StartOrShowResult } from './progressView';
export { ProgressView } from './progressView';
export type { ReconnectBackoffOptions } from './reconnectBackoff';
export { reconnectDelay } from './reconnectBackoff';
export type { HttpTransportOptions } from './restClient';
export type { SseMessage, SseParserOptions } from './sseParser';
export { createSseParser, DEFAULT_SSE_MAX_LINE_LENGTH, SseLineTooLongError } from './sseParser';
export { Subscribable } from './subscribable';
export type { SyncClient, SyncClientOptions } from './syncClient';
export { createSyncClient } from './syncClient';
export type { SyncJobObserverClient, SyncJobObserverOptions, SyncJobResult } from './syncJobObserver';
export { SyncJobObserver } from './syncJobObserver';
export type {
  ConnectionState,
  JobSubscriptionHandlers,
  JobSubscriptionOptions,
  ListJobsInput,
  SyncTransport,
} from './syncTransport';
export { TransportError, toTransportError } from './transportError';
export type { EngineTransportOptions } from './transports/engineTransport';
export { engineTransport } from './transports/engineTransport';
export type { PollingTransportOptions } from './transports/pollingTransport';
export { pollingTransport } from './transports/pollingTransport';
export type { SseTransportOptions } from './transports/sseTransport';
export { sseTransport } from './transports/sseTransport';
