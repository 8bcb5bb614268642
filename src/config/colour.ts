/** Colour arithmetic for the operator's brand colours: WCAG 2 contrast, and a readable text colour on a fill. */

/** #rgb or #rrggbb, lower-cased to #rrggbb; undefined when it is not one. */
export function parseHexColour(value: string): string | undefined {
  const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!match) return undefined;
  const hex = match[1]!.toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex}`;
}

/** WCAG 2 relative luminance of a #rrggbb colour. */
export function relativeLuminance(hex: string): number {
  const channel = (offset: number) => {
    const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG 2 contrast ratio of two #rrggbb colours, from 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** Of white and near-black, the text colour that reads best on `fill`, with its contrast. */
export function readableTextOn(fill: string): { text: string; contrast: number } {
  const candidates = ['#ffffff', '#111111'].map((text) => ({ text, contrast: contrastRatio(fill, text) }));
  return candidates.sort((a, b) => b.contrast - a.contrast)[0]!;
}
