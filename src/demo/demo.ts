/**
 * `npm run demo`: loads a demonstration exchange into a fresh hub (stop the hub first on the
 * embedded profile: PGlite admits one process at a time). Everything goes through the HTTP API
 * (in process), as offices would use it: offices with every role, people and API clients,
 * a patent family across CN, EP and US, documents of every visibility, citations.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { createOperatorService } from '../access/bootstrap.js';
import { createPasswordHasher } from '../access/passwords.js';
import { systemPrincipal } from '../access/principal.js';
import { closeOnSignals, configOrExit } from '../platform/lifecycle.js';
import { buildPdf } from './pdf.js';

const OPERATOR = { username: 'demo-operator', password: 'demo operator password' };
/** Demo passwords: readable, and not containing the username (the hub refuses that). */
const password = (username: string): string => `demo password ${username.split('-').reverse().join(' of ')}`;

class DemoError extends Error {}

async function call<T>(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(body !== undefined ? { payload: body as string } : {}),
  });
  if (response.statusCode >= 300) throw new DemoError(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return (response.body === '' ? undefined : response.json()) as T;
}

const login = async (app: FastifyInstance, username: string, secret = password(username)): Promise<string> =>
  (await call<{ accessToken: string }>(app, 'POST', '/v1/auth/login', undefined, { username, password: secret })).accessToken;

interface DemoOffice {
  code: string;
  name: string;
  roles: ('providing' | 'accessing')[];
  publicAccess: boolean;
  suspended?: boolean;
}

const OFFICES: DemoOffice[] = [
  { code: 'CN', name: 'China National Intellectual Property Administration', roles: ['providing', 'accessing'], publicAccess: false },
  { code: 'EP', name: 'European Patent Office', roles: ['providing', 'accessing'], publicAccess: true },
  { code: 'US', name: 'United States Patent and Trademark Office', roles: ['providing', 'accessing'], publicAccess: true },
  { code: 'JP', name: 'Japan Patent Office', roles: ['accessing'], publicAccess: false },
  { code: 'KR', name: 'Korean Intellectual Property Office', roles: ['accessing'], publicAccess: false, suspended: true },
];

interface Examiner {
  username: string;
  token: string;
}

async function admitOffice(app: FastifyInstance, operator: string, office: DemoOffice): Promise<Examiner> {
  await call(app, 'POST', '/v1/offices', operator, {
    code: office.code,
    name: office.name,
    roles: office.roles,
    providerMode: office.roles.includes('providing') ? 'repository' : null,
    publicAccess: office.publicAccess,
  });
  const admin = `${office.code.toLowerCase()}-admin`;
  await call(app, 'POST', `/v1/offices/${office.code}/users`, operator, { username: admin, role: 'officeAdmin', password: password(admin) });
  const adminToken = await login(app, admin);
  const branch = await call<{ id: string }>(app, 'POST', `/v1/offices/${office.code}/branches`, adminToken, { name: 'Examination' });
  const examiner = `${office.code.toLowerCase()}-examiner`;
  await call(app, 'POST', `/v1/offices/${office.code}/users`, adminToken, { username: examiner, password: password(examiner), branchId: branch.id });
  return { username: examiner, token: await login(app, examiner) };
}

const pdf = (title: string, lines: string[]): Buffer => buildPdf([[title, '', ...lines]]);

async function deposit(
  app: FastifyInstance,
  token: string,
  officeCode: string,
  number: string,
  document: { code: string; date: string; direction: 'incoming' | 'outgoing' | 'internal'; title: string; visibility?: string; allowedOffices?: string[]; lines: string[] },
): Promise<string> {
  const result = await call<{ document: { id: string } }>(app, 'POST', `/v1/applications/${officeCode}/${encodeURIComponent(number)}/documents`, token, pdf(document.title, document.lines), {
    'content-type': 'application/pdf',
    'document-code': document.code,
    'document-date': document.date,
    'document-direction': document.direction,
    'document-language': 'en',
    'document-title': encodeURIComponent(document.title),
    ...(document.visibility ? { 'document-visibility': document.visibility } : {}),
    ...(document.allowedOffices ? { 'document-allowed-offices': document.allowedOffices.join(',') } : {}),
  });
  return result.document.id;
}

async function load(app: FastifyInstance): Promise<string[]> {
  const existing = await call<{ items: unknown[] }>(app, 'GET', '/v1/offices', undefined);
  if (existing.items.length > 0) throw new DemoError('This hub already has offices: the demo dataset goes into a fresh hub (remove DATA_DIR, or use an empty database).');

  const em = app.db.fork();
  await createOperatorService({ em, hasher: createPasswordHasher() }).create(systemPrincipal('demo'), OPERATOR.username, OPERATOR.password);
  const operator = await login(app, OPERATOR.username, OPERATOR.password);

  const examiners = new Map<string, Examiner>();
  for (const office of OFFICES) examiners.set(office.code, await admitOffice(app, operator, office));
  const token = (code: string): string => examiners.get(code)?.token ?? '';

  const title = [{ languageCode: 'en', text: 'Battery pack with liquid-cooled cell carrier' }];
  const applicants = [{ name: 'Ningde Demo Battery Co., Ltd.', countryCode: 'CN' }];
  const priority = [{ officeCode: 'CN', number: '202310001234.7', date: '2023-01-05' }];
  await call(app, 'PUT', '/v1/applications/CN/202310001234.7', token('CN'), {
    filingDate: '2023-01-05',
    titles: [...title, { languageCode: 'zh', text: '带液冷电芯托架的电池包' }],
    applicants,
    inventors: [{ name: 'Li Wei' }],
    ipc: ['H01M 10/613'],
    published: true,
    publications: [{ number: 'CN 116000001', kindCode: 'A', date: '2023-04-18' }],
  });
  await call(app, 'PUT', '/v1/applications/EP/24150001', token('EP'), {
    filingDate: '2024-01-04',
    titles: title,
    applicants,
    ipc: ['H01M 10/613'],
    priorityClaims: priority,
    published: true,
    publications: [{ number: 'EP 4400001', kindCode: 'A1', date: '2024-07-10' }],
  });
  await call(app, 'PUT', '/v1/applications/US/18400001', token('US'), {
    filingDate: '2024-01-03',
    titles: title,
    applicants,
    ipc: ['H01M 10/613'],
    priorityClaims: priority,
    published: true,
    publications: [{ number: 'US 2024/0222001', kindCode: 'A1', date: '2024-07-04' }],
  });
  // Filed, not yet published: no other office can see it.
  await call(app, 'PUT', '/v1/applications/CN/202410123456.X', token('CN'), {
    filingDate: '2024-06-01',
    titles: [{ languageCode: 'en', text: 'Cell carrier with embedded sensors' }],
    applicants,
    published: false,
  });

  await deposit(app, token('CN'), 'CN', '202310001234.7', { code: 'searchReport', date: '2023-06-30', direction: 'outgoing', title: 'CN search report', lines: ['Category X: US 2021/0123456 A1, claims 1-5.'] });
  await deposit(app, token('CN'), 'CN', '202310001234.7', { code: 'writtenOpinion', date: '2023-06-30', direction: 'outgoing', title: 'CN written opinion (shared with EP only)', visibility: 'restricted', allowedOffices: ['EP'], lines: ['Claims 1-5 lack novelty.'] });
  await deposit(app, token('CN'), 'CN', '202310001234.7', { code: 'other', date: '2023-07-02', direction: 'internal', title: 'Examiner note', lines: ['Internal note: check the EP search.'] });
  await deposit(app, token('CN'), 'CN', '202410123456.X', { code: 'searchReport', date: '2024-09-01', direction: 'outgoing', title: 'CN search report (unpublished application)', lines: ['Not visible outside CNIPA.'] });
  const epSearch = await deposit(app, token('EP'), 'EP', '24150001', { code: 'searchReport', date: '2024-07-10', direction: 'outgoing', title: 'European search report', visibility: 'public', lines: ['Category X: CN 116000001 A.', 'Category Y: US 2021/0123456 A1.'] });
  await deposit(app, token('EP'), 'EP', '24150001', { code: 'examinationReport', date: '2025-02-11', direction: 'outgoing', title: 'Communication under Article 94(3) EPC', lines: ['Claim 1 is not inventive over D1 and D2.'] });
  await deposit(app, token('US'), 'US', '18400001', { code: 'officeAction', date: '2025-01-15', direction: 'outgoing', title: 'Non-final rejection', visibility: 'public', lines: ['Claims 1-20 are rejected under 35 U.S.C. 103.'] });
  await deposit(app, token('US'), 'US', '18400001', { code: 'applicantReply', date: '2025-04-14', direction: 'incoming', title: 'Response to office action', lines: ['Applicant amends claim 1.'] });

  await call(app, 'PUT', '/v1/applications/EP/24150001/citations', token('EP'), {
    citations: [
      { type: 'patent', officeCode: 'CN', number: '116000001', kindCode: 'A', categories: ['X'], claims: '1-5', documentId: epSearch },
      { type: 'patent', officeCode: 'US', number: '2021/0123456', kindCode: 'A1', categories: ['Y'], claims: '1-3' },
      { type: 'npl', text: 'J. Doe, "Liquid cooling of prismatic cells", J. Power Sources 512 (2021) 230-241', categories: ['A'] },
    ],
  });

  for (const office of OFFICES) if (office.suspended) await call(app, 'PATCH', `/v1/offices/${office.code}`, operator, { status: 'suspended' });

  return [
    `Demo exchange loaded. Sign in (POST /v1/auth/login) as:`,
    `  ${OPERATOR.username} / ${OPERATOR.password}   (hub operator)`,
    ...OFFICES.flatMap((office) => {
      const admin = `${office.code.toLowerCase()}-admin`;
      const examiner = `${office.code.toLowerCase()}-examiner`;
      const note = office.suspended ? ' (office suspended)' : '';
      return [`  ${admin} / ${password(admin)}${note}`, `  ${examiner} / ${password(examiner)}${note}`];
    }),
    'Family: CN 202310001234.7 (first filing) claimed by EP 24150001 and US 18/400,001; CN 202410123456.X is unpublished.',
    'Documents of every visibility: public (EP search report, US office action), offices, restricted to EP (CN written opinion), internal.',
  ];
}

async function main(): Promise<void> {
  const config = configOrExit();
  const app = await buildApp({ config, logger: false, runJobs: true });
  closeOnSignals(app, config.limits.shutdownTimeoutMs, 'demo loader');
  await app.ready();
  try {
    const lines = await load(app);
    // Let the text extraction of the deposits finish before closing.
    for (let waited = 0; waited < 30_000; waited += 250) {
      const counts = Object.values(await app.jobs.counts());
      if (counts.every((states) => states.waiting + states.active + states.delayed === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    console.log(lines.join('\n'));
  } catch (error) {
    if (!(error instanceof DemoError)) throw error;
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await app.close();
  }
}

await main();
