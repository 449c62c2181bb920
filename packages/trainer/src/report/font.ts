// A small 5x8 bitmap font for printable ASCII (32..126), drawn for this project.
//
// Each glyph is 8 characters of base-32 ('0'..'9', 'a'..'v'), one per row from top to bottom;
// a row's value is a 5-bit mask whose bit 4 is the leftmost pixel. Rows 0..6 hold the body
// (capital letters and digits are 7 rows tall, the baseline is row 6); row 7 holds descenders
// (g, j, p, q, y, comma). Glyphs are laid out in cells of GLYPH_ADVANCE x LINE_HEIGHT pixels
// (times the scale), which leaves one blank column and one blank row between neighbours.

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 8;
/** Horizontal distance between the left edges of neighbouring glyphs at scale 1. */
export const GLYPH_ADVANCE = 6;
/** Vertical distance between baselines of neighbouring text lines at scale 1. */
export const LINE_HEIGHT = 10;

const FIRST = 32;
const LAST = 126;
const ROWS = 8;

// prettier-ignore
const TABLE = [
  '0000000044444040aaa00000aavavaa04fke5u40op248j30cik8lid044800000', // sp ! " # $ % & '
  '248884208422248004lel400044v440000000c48000v000000000cc001248g00', // ( ) * + , - . /
  'ehjlphe04c4444e0eh1248v0v2421he026aiv220vgu11he068guhhe0v1248880', // 0 1 2 3 4 5 6 7
  'ehhehhe0ehhf12c00cc0cc000cc0c480248g842000v0v00084212480eh124040', // 8 9 : ; < = > ?
  'eh1dlle0ehhvhhh0uhhuhhu0ehggghe0sihhhis0vgguggv0vgguggg0ehgnhhf0', // @ A B C D E F G
  'hhhvhhh0e44444e072222ic0hikokih0ggggggv0hrllhhh0hhpljhh0ehhhhhe0', // H I J K L M N O
  'uhhuggg0ehhhlid0uhhukih0fgge11u0v4444440hhhhhhe0hhhhha40hhhllla0', // P Q R S T U V W
  'hha4ahh0hha44440v1248gv0e88888e00g842100e22222e04ah00000000000v0', // X Y Z [ \\ ] ^ _
  '8420000000e1fhf0ggmphhu000egghe011djhhf000ehvge0698s888000fhhf1e', // ` a b c d e f g
  'ggmphhh040c444e0206222icggikoki0c44444e000qllhh000mphhh000ehhhe0', // h i j k l m n o
  '00uhhugg00fhhf1100mpggg000fge1u088s8896000hhhjd000hhha4000hhlla0', // p q r s t u v w
  '00ha4ah000hhhf1e00v248v0244844204444444084424480008l2000', // x y z { | } ~
].join('');

const glyphCache = new Map<number, Uint8Array>();

/**
 * The bitmap of one character as GLYPH_HEIGHT rows of GLYPH_WIDTH pixels (1 = ink), row-major.
 * Code points outside printable ASCII render as '?'.
 */
export function glyph(codePoint: number): Uint8Array {
  const code = codePoint >= FIRST && codePoint <= LAST ? codePoint : 63; /* '?' */
  const cached = glyphCache.get(code);
  if (cached) return cached;
  const bits = new Uint8Array(GLYPH_WIDTH * GLYPH_HEIGHT);
  const base = (code - FIRST) * ROWS;
  for (let r = 0; r < ROWS; r++) {
    const mask = parseInt(TABLE.charAt(base + r), 32);
    for (let c = 0; c < GLYPH_WIDTH; c++) {
      bits[r * GLYPH_WIDTH + c] = (mask >> (GLYPH_WIDTH - 1 - c)) & 1;
    }
  }
  glyphCache.set(code, bits);
  return bits;
}

/** Width in pixels of `text` drawn at `scale` (no trailing spacing column). */
export function textWidth(text: string, scale = 1): number {
  let n = 0;
  for (const _ of text) n++;
  return n === 0 ? 0 : (n * GLYPH_ADVANCE - 1) * scale;
}
