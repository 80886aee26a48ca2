import { SyncProgressActions } from './SyncProgressActions';
import { SyncProgressBar } from './SyncProgressBar';
import { SyncProgressCategories } from './SyncProgressCategories';
import { SyncProgressHeader } from './SyncProgressHeader';
import { SyncProgressLogs, type SyncProgressLogsProps } from './SyncProgressLogs';
import { SyncProgressModalRoot, type SyncProgressModalRootProps } from './SyncProgressModalRoot';
import { SyncProgressStats } from './SyncProgressStats';

export interface SyncProgressModalProps extends Omit<SyncProgressModalRootProps, 'children'> {
  /** Newest log lines rendered (default 500). */
  maxRenderedLogLines?: SyncProgressLogsProps['maxRenderedLines'];
}

/**
 * The whole progress modal: header, bar, stats, categories, log and actions. For another layout,
 * compose the parts yourself inside `SyncProgressModal.Root`.
 */
function SyncProgressModalDefault({ maxRenderedLogLines, ...rootProps }: SyncProgressModalProps) {
  return (
    <SyncProgressModalRoot {...rootProps}>
      <SyncProgressHeader />
      <SyncProgressBar />
      <SyncProgressStats />
      <SyncProgressCategories />
      <SyncProgressLogs maxRenderedLines={maxRenderedLogLines} />
      <SyncProgressActions />
    </SyncProgressModalRoot>
  );
}

/** `<SyncProgressModal>` plus its compound parts (`SyncProgressModal.Root`, `.Header`, …). */
export const SyncProgressModal = Object.assign(SyncProgressModalDefault, {
  Root: SyncProgressModalRoot,
  Header: SyncProgressHeader,
  Progress: SyncProgressBar,
  Stats: SyncProgressStats,
  Categories: SyncProgressCategories,
  Logs: SyncProgressLogs,
  Actions: SyncProgressActions,
});
