/** Tests build their PDFs with the same minimal writer as the demo dataset. */
export { buildPdf } from '../../src/demo/pdf.js';
