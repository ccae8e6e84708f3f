import { createDeflate, deflateSync } from 'node:zlib';
/** Tests build their PDFs with the same minimal writer as the demo dataset. */
export { buildPdf } from '../../src/demo/pdf.js';

/**
 * A one-page PDF "billion laughs": form XObject level k draws level k-1 `fanout` times, level 0 shows one word, so
 * the page draws fanout^depth words from a file of a few kilobytes (depth 5, fanout 10: about 5 s of pdfjs in one
 * page on the development machine; each level ten times more).
 */
export function nestedFormsPdf(depth: number, fanout: number): Buffer {
  const bodies = new Map<number, string>();
  const stream = (dictionary: string, content: string) => `<< ${dictionary} /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`;
  const formId = (level: number) => 6 + level;
  bodies.set(1, '<< /Type /Catalog /Pages 2 0 R >>');
  bodies.set(2, '<< /Type /Pages /Kids [4 0 R] /Count 1 >>');
  bodies.set(3, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  bodies.set(4, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X ${formId(depth)} 0 R >> >> /Contents 5 0 R >>`);
  bodies.set(5, stream('', '/X Do'));
  bodies.set(formId(0), stream('/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>', 'BT /F1 12 Tf 72 720 Td (laugh) Tj ET'));
  for (let level = 1; level <= depth; level++) {
    const draws = Array.from({ length: fanout }, () => '/X Do').join(' ');
    bodies.set(formId(level), stream(`/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X ${formId(level - 1)} 0 R >> >>`, draws));
  }
  return assemblePdf(Array.from({ length: formId(depth) }, (_, index) => Buffer.from(bodies.get(index + 1) ?? '', 'latin1')));
}

/** A one-page PDF whose content stream, deflated to a few hundred KiB, inflates to one string literal of `chars` characters. */
export function longStringPdf(chars: number): Buffer {
  const content = Buffer.concat([Buffer.from('BT /F1 12 Tf 72 720 Td ('), Buffer.alloc(chars, 'x'), Buffer.from(') Tj ET')]);
  return pdfWithDeflatedContent(deflateSync(content, { level: 9 }));
}

/** A one-page PDF of a few MiB whose content stream inflates to `bytes` spaces (pdfjs keeps all of it in one buffer). */
export async function inflatingPdf(bytes: number): Promise<Buffer> {
  const chunk = Buffer.alloc(Math.min(bytes, 64 * 1024 * 1024), ' ');
  const deflate = createDeflate({ level: 9 });
  const packed: Buffer[] = [];
  deflate.on('data', (piece: Buffer) => packed.push(piece));
  const ended = new Promise((resolve) => deflate.once('end', resolve));
  for (let written = 0; written < bytes; written += chunk.length) {
    if (!deflate.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)))) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await ended;
  return pdfWithDeflatedContent(Buffer.concat(packed));
}

/** A one-page PDF (Helvetica as F1) whose content stream is `packed`, FlateDecode. */
function pdfWithDeflatedContent(packed: Buffer): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [4 0 R] /Count 1 >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>',
  ].map((body) => Buffer.from(body, 'latin1'));
  objects.push(Buffer.concat([Buffer.from(`<< /Length ${packed.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'), packed, Buffer.from('\nendstream', 'latin1')]));
  return assemblePdf(objects);
}

/** A PDF of these objects (numbered from 1, the catalog first), with its cross-reference table computed from the bytes. */
function assemblePdf(objects: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(length);
    const object = Buffer.concat([Buffer.from(`${index + 1} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj\n', 'latin1')]);
    parts.push(object);
    length += object.length;
  });
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}`;
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`, 'latin1'));
  return Buffer.concat(parts);
}
