import { googleErrors, jsonResponse } from '../http/googleError.js';
import type { LabelFilterBehavior } from '../push/pushHub.js';
import type { GmailCallContext } from './gmailApi.js';

/** Pub/Sub's v1 topic naming: the project id and the topic id, nothing else. */
const TOPIC_NAME = /^projects\/[^/\s]+\/topics\/[^/\s]+$/;
const BEHAVIORS: readonly LabelFilterBehavior[] = ['include', 'exclude'];

function behaviorOf(raw: unknown, field: string): LabelFilterBehavior | Response | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === 'string' ? raw.toLowerCase() : raw;
  if (!BEHAVIORS.includes(value as LabelFilterBehavior)) {
    return googleErrors.invalidArgument(
      `Invalid value at '${field}' (type.googleapis.com/google.apps.gmail.v1.WatchRequest.LabelFilterAction), ${JSON.stringify(raw)}`,
    );
  }
  return value as LabelFilterBehavior;
}

/**
 * `POST users/{userId}/watch`: sets (or replaces) the mailbox's watch. Answers the current
 * `historyId` and the expiration, seven days from now in ms since the epoch, as a string.
 */
export function watch({ mailbox, body, push }: GmailCallContext): Response {
  const request = (body ?? {}) as Record<string, unknown>;
  if (typeof request !== 'object' || Array.isArray(request)) {
    return googleErrors.invalidArgument('Invalid JSON payload received. Expected an object.');
  }
  const topicName = request.topicName;
  if (typeof topicName !== 'string' || !TOPIC_NAME.test(topicName)) {
    return googleErrors.invalidArgument(
      `Invalid topicName does not match projects/{project}/topics/*: ${JSON.stringify(topicName ?? '')}`,
    );
  }
  const rawLabels = request.labelIds ?? [];
  if (!Array.isArray(rawLabels) || rawLabels.some((id) => typeof id !== 'string')) {
    return googleErrors.invalidArgument("Invalid value at 'label_ids': expected a list of label ids");
  }
  const labelIds = rawLabels as string[];
  let labelBits = 0;
  for (const id of labelIds) {
    const bit = mailbox.labels.bitOfId(id);
    if (bit === undefined) return googleErrors.invalidArgument(`Invalid label: ${id}`);
    labelBits |= bit;
  }
  // labelFilterBehavior replaces the deprecated labelFilterAction; both default to include.
  const behavior = behaviorOf(request.labelFilterBehavior, 'label_filter_behavior');
  if (behavior instanceof Response) return behavior;
  const action = behaviorOf(request.labelFilterAction, 'label_filter_action');
  if (action instanceof Response) return action;
  const set = push.watch(mailbox.address, {
    topicName,
    labelIds,
    labelBits: labelBits >>> 0,
    labelFilterBehavior: behavior ?? action ?? 'include',
  });
  return jsonResponse({ historyId: String(mailbox.historyId), expiration: String(set.expiration) });
}

/** `POST users/{userId}/stop`: ends the mailbox's watch; 204 with no body, watched or not. */
export function stop({ mailbox, push }: GmailCallContext): Response {
  push.stop(mailbox.address);
  return new Response(null, { status: 204 });
}
