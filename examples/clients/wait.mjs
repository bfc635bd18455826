// Follows a job with Prefer: wait and its ETag: prints its status each time it changes, then the
// result. Node 18 or later (fetch); needs BASE (…/api/v1/flickr), JOB and TOKEN.
const { BASE, JOB, TOKEN } = process.env;
const url = `${BASE}/jobs/${JOB}`;
const auth = { Authorization: `Bearer ${TOKEN}` };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let etag;
for (;;) {
  // Held by the function until the job changes (up to 20 s): 200 with the new status, or 304.
  const headers = { ...auth, Prefer: 'wait=20', ...(etag && { 'If-None-Match': etag }) };
  const response = await fetch(url, { headers });
  if (response.status === 304) continue; // nothing new for 20 s: ask again
  if (response.status === 503) {
    await sleep(1000 * Number(response.headers.get('retry-after') ?? 1));
    continue;
  }
  const { data, error } = await response.json();
  if (!response.ok) throw new Error(`${response.status} ${error.code}: ${error.message}`);
  etag = response.headers.get('etag');
  console.log(JSON.stringify(data));
  if (data.state === 'completed' || data.state === 'failed') break;
}
const result = await fetch(`${url}/result`, { headers: auth });
console.log(JSON.stringify(await result.json()));
