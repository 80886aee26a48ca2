import { isCompletion, type Job, jobAnnouncement } from '@syncjob/core/client';
import {
  createContext,
  type KeyboardEvent,
  type ReactNode,
  type SyntheticEvent,
  useContext,
  useEffect,
  useId,
  useRef,
} from 'react';
import { useProgressView } from '../useProgressView';
import { type UseSyncJobResult, useSyncJob } from '../useSyncJob';

export interface SyncProgressModalContextValue {
  sync: UseSyncJobResult;
  titleId: string;
  subtitleId: string;
  /** Asks the owner to close the modal (the sync continues). */
  requestClose(): void;
}

const SyncProgressModalContext = createContext<SyncProgressModalContextValue | null>(null);

/** The modal's state, for custom parts inside `<SyncProgressModal.Root>`. */
export function useSyncProgressModal(): SyncProgressModalContextValue {
  const value = useContext(SyncProgressModalContext);
  if (!value) throw new Error('SyncProgressModal parts must be rendered inside <SyncProgressModal.Root>.');
  return value;
}

export interface SyncProgressModalRootProps {
  /** The source id, e.g. `gmail`. Required. */
  source: string;
  /** The account whose sync is shown. Required. */
  accountId: string;
  /**
   * Whether the modal is shown. Omit it (the default) and the modal follows the account's shared
   * progress view: it opens by itself when a page load finds the account syncing, when
   * `<SyncButton>` is pressed, or when a new job of the account starts, and stays closed once
   * closed. Pass it to control the modal yourself (then `onClose` must update it).
   */
  open?: boolean;
  /**
   * Called when the user closes the modal (button, Escape, auto-close); the sync continues.
   * Required when `open` is passed; uncontrolled, it is an optional notification (default: none).
   */
  onClose?(): void;
  /** Called once when the watched job completes while mounted (default: none). */
  onComplete?(job: Job): void;
  /** Closes the modal this many ms after the job completes (default `undefined`: stays open). */
  autoCloseAfterMs?: number;
  /** Forces a colour scheme; by default it follows `prefers-color-scheme`. */
  theme?: 'light' | 'dark';
  /** Extra class on the `<dialog>` (default none). */
  className?: string;
  children?: ReactNode;
}

/**
 * The native `<dialog>` (opened with `showModal()`, so the page behind is inert), named by its
 * title, with focus moved in and given back to whatever had it. Provides the sync to its parts.
 */
export function SyncProgressModalRoot(props: SyncProgressModalRootProps) {
  const { source, accountId, onComplete, autoCloseAfterMs, theme, className, children } = props;
  const sync = useSyncJob({ source, accountId });
  const view = useProgressView({ source, accountId, enabled: props.open === undefined });
  const open = props.open ?? view.open;
  const onClose = () => {
    if (props.open === undefined) view.hide();
    props.onClose?.();
  };
  const dialogRef = useRef<HTMLDialogElement>(null);
  const returnFocusRef = useRef<HTMLElement | null>(null);
  const titleId = useId();
  const subtitleId = useId();
  const latest = useRef({ onClose, onComplete, autoCloseAfterMs, open });
  latest.current = { onClose, onComplete, autoCloseAfterMs, open };

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      const active = dialog.ownerDocument.activeElement;
      returnFocusRef.current = active instanceof HTMLElement ? active : null;
      // jsdom and old browsers lack showModal: the attribute still shows it.
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', '');
      if (!dialog.contains(dialog.ownerDocument.activeElement)) {
        (dialog.querySelector<HTMLElement>('button, [tabindex]') ?? dialog).focus();
      }
    } else if (!open && dialog.open) {
      closeDialog(dialog);
      returnFocusRef.current?.focus();
      returnFocusRef.current = null;
    }
  }, [open]);

  useEffect(
    () => () => {
      if (dialogRef.current?.open) returnFocusRef.current?.focus();
    },
    [],
  );

  const previousStatus = useRef(sync.status);
  useEffect(() => {
    const previous = previousStatus.current;
    previousStatus.current = sync.status;
    if (!isCompletion(previous, sync.status) || !sync.job) return;
    latest.current.onComplete?.(sync.job);
    const delay = latest.current.autoCloseAfterMs;
    if (delay === undefined || !latest.current.open) return;
    const timer = setTimeout(() => latest.current.onClose(), delay);
    return () => clearTimeout(timer);
  }, [sync.status, sync.job]);

  const onKeyDown = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key !== 'Escape') return;
    // Handled here rather than by the dialog's own cancel, so the owner's `open` stays the truth.
    event.preventDefault();
    onClose();
  };
  const onCancel = (event: SyntheticEvent<HTMLDialogElement>) => {
    event.preventDefault();
    onClose();
  };

  return (
    <dialog
      ref={dialogRef}
      className={className ? `sj-modal ${className}` : 'sj-modal'}
      aria-labelledby={titleId}
      aria-describedby={subtitleId}
      data-state={sync.status ?? 'none'}
      data-theme={theme}
      tabIndex={-1}
      onKeyDown={onKeyDown}
      onCancel={onCancel}
    >
      <SyncProgressModalContext.Provider value={{ sync, titleId, subtitleId, requestClose: onClose }}>
        {open ? children : null}
        <p className="sj-visually-hidden" role="status">
          {open ? jobAnnouncement(sync.job) : ''}
        </p>
      </SyncProgressModalContext.Provider>
    </dialog>
  );
}

function closeDialog(dialog: HTMLDialogElement) {
  if (typeof dialog.close === 'function') dialog.close();
  else dialog.removeAttribute('open');
}
