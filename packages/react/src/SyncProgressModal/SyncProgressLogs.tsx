import { formatCount, formatLogTime, type LogEntry, logWindow } from '@syncjob/core/client';
import { memo, useLayoutEffect, useRef, useState } from 'react';
import { useSyncProgressModal } from './SyncProgressModalRoot';

export interface SyncProgressLogsProps {
  /** Newest lines rendered; older ones stay held but are not in the DOM, so 10,000 lines stay fast (default 500). */
  maxRenderedLines?: number;
}

/** Distance from the bottom, in px, still read as "at the bottom" (sub-pixel rounding, zoom). */
const BOTTOM_SLACK_PX = 8;

const LogLine = memo(function LogLine({ entry }: { entry: LogEntry }) {
  return (
    <li className="sj-log-line" data-level={entry.level}>
      <time dateTime={entry.at}>{formatLogTime(entry.at)}</time>
      <span className="sj-log-level">{entry.level}</span>
      <span className="sj-log-message">{entry.message}</span>
    </li>
  );
});

/**
 * The job's log. Follows new lines until the user scrolls up, then stays put; the toggle (or
 * scrolling back to the bottom) resumes following.
 */
export function SyncProgressLogs({ maxRenderedLines = 500 }: SyncProgressLogsProps) {
  const { sync } = useSyncProgressModal();
  const panelRef = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const shown = logWindow(sync.logs, maxRenderedLines);

  // Runs before paint, so a following panel never flashes the old scroll position.
  useLayoutEffect(() => {
    const panel = panelRef.current;
    if (following && panel) panel.scrollTop = panel.scrollHeight;
  });

  const onScroll = () => {
    const panel = panelRef.current;
    if (!panel) return;
    setFollowing(panel.scrollHeight - panel.scrollTop - panel.clientHeight <= BOTTOM_SLACK_PX);
  };

  return (
    <section className="sj-logs" aria-label="Sync log">
      <div className="sj-logs-toolbar">
        <span className="sj-logs-count">{formatCount(sync.logs.length)} lines</span>
        <button
          type="button"
          className="sj-logs-follow"
          aria-pressed={following}
          onClick={() => setFollowing((value) => !value)}
        >
          Auto-scroll
        </button>
      </div>
      <div
        ref={panelRef}
        className="sj-logs-panel"
        role="log"
        aria-live="off"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to be scrolled
        tabIndex={0}
        onScroll={onScroll}
      >
        <ol className="sj-log-lines">
          {shown.hidden > 0 ? (
            <li className="sj-log-hidden">{formatCount(shown.hidden)} earlier lines not shown</li>
          ) : null}
          {shown.lines.map((entry) => (
            <LogLine key={entry.seq} entry={entry} />
          ))}
        </ol>
      </div>
    </section>
  );
}
