import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MailboxSync } from '../components/MailboxSync';
import { ACCOUNT } from '../lib/account';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MailboxSync accountId={ACCOUNT} />
  </StrictMode>,
);
