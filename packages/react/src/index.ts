export type { SyncButtonProps } from './SyncButton';
export { SyncButton } from './SyncButton';
export type { SyncProgressHeaderProps } from './SyncProgressModal/SyncProgressHeader';
export type { SyncProgressLogsProps } from './SyncProgressModal/SyncProgressLogs';
export type { SyncProgressModalProps } from './SyncProgressModal/SyncProgressModal';
export { SyncProgressModal } from './SyncProgressModal/SyncProgressModal';
export type {
  SyncProgressModalContextValue,
  SyncProgressModalRootProps,
} from './SyncProgressModal/SyncProgressModalRoot';
export { useSyncProgressModal } from './SyncProgressModal/SyncProgressModalRoot';
export type { SyncProviderProps } from './SyncProvider';
export { SyncProvider, useSyncClient } from './SyncProvider';
export type { SyncStatusProps } from './SyncStatus';
export { SyncStatus } from './SyncStatus';
export type { UseProgressViewOptions, UseProgressViewResult } from './useProgressView';
export { useProgressView } from './useProgressView';
export type { UseSyncJobOptions, UseSyncJobResult } from './useSyncJob';
export { useSyncJob } from './useSyncJob';
