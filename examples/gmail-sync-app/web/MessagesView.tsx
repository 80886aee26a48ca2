import type { MailSummary, MessageRow } from './api.ts';

const number = new Intl.NumberFormat('en-US');

export interface MessagesViewProps {
  summary: MailSummary | null;
  latest: MessageRow[];
}

/** What landed in the app's database: counts by label and category, and the newest 50 messages. */
export function MessagesView({ summary, latest }: MessagesViewProps) {
  if (!summary) return <p className="muted">Loading…</p>;
  return (
    <>
      <p className="synced-count">
        <strong data-testid="synced-count">{number.format(summary.total)}</strong> messages synced
      </p>
      <div className="counts">
        <section aria-labelledby="by-label">
          <h3 id="by-label">By label</h3>
          <ul className="chips">
            {summary.labels.map((label) => (
              <li key={label.id} data-type={label.type}>
                {label.name} <span>{number.format(label.count)}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="by-category">
          <h3 id="by-category">By category</h3>
          <ul className="chips">
            {summary.categories.map((entry) => (
              <li key={entry.category}>
                {entry.category} <span>{number.format(entry.count)}</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
      <table className="messages" data-testid="latest-messages">
        <caption>Latest {latest.length} messages</caption>
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">From</th>
            <th scope="col">Subject</th>
            <th scope="col">Labels</th>
          </tr>
        </thead>
        <tbody>
          {latest.map((message) => (
            <tr key={message.id}>
              <td>{message.internalDate ? new Date(message.internalDate).toLocaleDateString() : ''}</td>
              <td>{message.from}</td>
              <td>
                <span className="subject">{message.subject || '(no subject)'}</span>
                <span className="snippet">{message.snippet}</span>
              </td>
              <td className="labels">{message.labelIds.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
