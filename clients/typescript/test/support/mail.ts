// Reads the mails a test server wrote as `.eml` files (its file mailbox,
// used while SMTP_URL is unset) and finds the link a person would click.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Undo quoted-printable's soft line breaks and escaped `=`. */
function unfold(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=3D/gi, '=');
}

/**
 * The link to `path` (e.g. `/account/reset`) in the newest mail to `to`,
 * waiting up to ten seconds for the outbox to write it.
 */
export async function mailedLink(mailDir: string, to: string, path: string): Promise<string> {
  const pattern = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[A-Za-z0-9_-]{43}`);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const files = existsSync(mailDir) ? readdirSync(mailDir).filter((name) => name.endsWith('.eml')).sort().reverse() : [];
    for (const name of files) {
      const text = unfold(readFileSync(join(mailDir, name), 'utf8'));
      if (!new RegExp(`^To: .*${to.replace(/[.]/g, '\\.')}`, 'mi').test(text)) {
        continue;
      }
      const link = pattern.exec(text);
      if (link) {
        return link[0];
      }
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  throw new Error(`no mail to ${to} with a ${path} link in ${mailDir}`);
}
