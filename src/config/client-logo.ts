/** Largest data: logo a client may register (the whole URI): it is inlined into every page of its sign-ins. */
export const LOGO_DATA_URI_MAX = 32 * 1024;
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;

/** A base64 data: URI of an image type, within the size cap. */
export function isLogoDataUri(value: unknown): value is string {
  return typeof value === 'string' && value.length <= LOGO_DATA_URI_MAX && DATA_IMAGE.test(value);
}
