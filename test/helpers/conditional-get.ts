import http from 'node:http';

/** Raw GET with If-None-Match, answering the status: fetch() adds `Cache-Control: no-cache` to conditional requests, which rightly defeats a 304. */
export const conditionalGet = (url: string, etag: string) =>
  new Promise<number>((resolve, reject) => {
    http
      .get(url, { headers: { 'if-none-match': etag } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on('error', reject);
  });
