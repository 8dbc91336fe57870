/**
 * The image config's User split as kubelet expects it in ImageStatus: a numeric
 * user part (before any ":group") is a uid, anything else is a user name.
 */
export function imageUser(user: string | undefined): { uid?: number; username: string } {
  const name = (user ?? '').split(':')[0]!.trim();
  if (name === '') return { username: '' };
  if (/^\d+$/.test(name)) return { uid: Number(name), username: '' };
  return { username: name };
}
