import { sql, type Kysely } from 'kysely';

/**
 * A sign-in name is a username or an e-mail address, so the two must never name different users:
 * a username with an `@` must be the user's own address, and no username may equal another user's
 * address. The cross-row rule is a trigger holding a per-table lock, so two concurrent writes
 * cannot each miss the other's row. Existing rows are left as they are (NOT VALID); new writes obey.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table users add constraint users_username_at_is_own_email
    check (strpos(username, '@') = 0 or (email is not null and lower(username) = lower(email))) not valid`.execute(db);
  await sql`create function users_login_names_disjoint() returns trigger language plpgsql as $$
    begin
      perform pg_advisory_xact_lock(tg_relid::bigint);
      if new.username is not null and exists (
        select 1 from users where id <> new.id and lower(email) = lower(new.username)) then
        raise exception 'username is another user''s e-mail address'
          using errcode = 'unique_violation', constraint = 'users_username_not_email';
      end if;
      if new.email is not null and exists (
        select 1 from users where id <> new.id and lower(username) = lower(new.email)) then
        raise exception 'e-mail address is another user''s username'
          using errcode = 'unique_violation', constraint = 'users_email_not_username';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger users_login_names before insert or update of username, email on users
    for each row execute function users_login_names_disjoint()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists users_login_names on users`.execute(db);
  await sql`drop function if exists users_login_names_disjoint()`.execute(db);
  await sql`alter table users drop constraint if exists users_username_at_is_own_email`.execute(db);
}
