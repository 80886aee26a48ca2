import { MailboxSync } from '@/components/MailboxSync';
import { ACCOUNT } from '@/lib/account';

export default function Page() {
  return (
    <main>
      <h1>Mailbox</h1>
      <MailboxSync accountId={ACCOUNT} />
    </main>
  );
}
