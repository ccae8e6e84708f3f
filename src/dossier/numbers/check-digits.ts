/**
 * Check digits of application numbers, where the office publishes the algorithm.
 *
 * - CNIPA: each of the 12 digits (8 before October 2003) times the weights
 *   2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, summed, modulo 11; a remainder of 10 is written `X`.
 *   Checked against real numbers, e.g. 201710601862.3 and 97101765.4.
 * - EPO: the Luhn (modulus 10, "double-add-double") digit over the 8 digits, the
 *   rightmost digit doubled. Checked against real numbers, e.g. 15150367.9, 13192291.6, 01306315.1.
 */

const CNIPA_WEIGHTS = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5] as const;

/** The CNIPA check digit (`0`–`9` or `X`) of a 12-digit or old 8-digit application number. */
export function cnipaCheckDigit(digits: string): string {
  if (!/^(?:\d{8}|\d{12})$/.test(digits)) throw new RangeError(`A CNIPA application number has 8 or 12 digits, not "${digits}"`);
  let sum = 0;
  for (let index = 0; index < digits.length; index++) sum += Number(digits.charAt(index)) * (CNIPA_WEIGHTS[index] ?? 0);
  const remainder = sum % 11;
  return remainder === 10 ? 'X' : String(remainder);
}

/** The EPO check digit of an 8-digit European application number. */
export function epoCheckDigit(digits: string): string {
  if (!/^\d{8}$/.test(digits)) throw new RangeError(`A European application number has 8 digits, not "${digits}"`);
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits.charAt(index));
    // Luhn doubles every second digit counting from the right of the payload: here the odd positions (0-based).
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}
