/**
 * A client's registered metadata in its snake_case form. oidc-provider's `client.metadata()`
 * rebuilds that object on every call by renaming each property, and a sign-in asks about six
 * times (passkey policy, minimum acr, first party, logo). oidc-provider never changes a client
 * object once made (a changed registration becomes a new object), so one copy per object is
 * exact, and it goes when the object does.
 */
const copies = new WeakMap<object, Readonly<Record<string, unknown>>>();

const NONE: Readonly<Record<string, unknown>> = Object.freeze({});

/** The metadata of a client (nothing for no client, or a stand-in without metadata). */
export function clientMetadata(client: { metadata?(): Record<string, unknown> } | undefined): Readonly<Record<string, unknown>> {
  if (!client?.metadata) return NONE;
  let copy = copies.get(client);
  if (!copy) copies.set(client, (copy = Object.freeze(client.metadata())));
  return copy;
}
