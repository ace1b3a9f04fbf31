import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { sql } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * The one migration set for both engines. Only the auto-increment primary key differs between
 * them; everything else is portable DDL. Invariants live in constraints, not only in code.
 */
function idColumn(dialect: DialectName): ['id', 'integer' | 'serial'] {
  return ['id', dialect === 'sqlite' ? 'integer' : 'serial'];
}

function initialSchema(dialect: DialectName): Migration {
  const [idName, idType] = idColumn(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('projects')
        .addColumn(idName, idType, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('normalized_name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('serial', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable('releases')
        .addColumn(idName, idType, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('summary', 'text')
        .addColumn('requires_python', 'text')
        .addColumn('info_json', 'text', (c) => c.notNull())
        .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0).check(sql`yanked in (0, 1)`))
        .addColumn('yanked_reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('releases_project_version_unique', ['project_id', 'version'])
        .execute();

      await db.schema
        .createTable('files')
        .addColumn(idName, idType, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('release_id', 'integer', (c) => c.notNull().references('releases.id'))
        .addColumn('filename', 'text', (c) => c.notNull().unique())
        .addColumn('packagetype', 'text', (c) => c.notNull())
        .addColumn('python_version', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size >= 0`))
        .addColumn('sha256', 'text', (c) => c.notNull().unique().check(sql`length(sha256) = 64`))
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('blake2b_256', 'text', (c) => c.notNull().unique())
        .addColumn('requires_python', 'text')
        .addColumn('core_metadata', 'text', (c) => c.notNull())
        .addColumn('core_metadata_sha256', 'text', (c) => c.notNull())
        .addColumn('upload_time', 'text', (c) => c.notNull())
        .addColumn('uploaded_by_token_id', 'integer')
        .execute();
      await db.schema.createIndex('files_release_idx').on('files').column('release_id').execute();
      await db.schema.createIndex('files_project_idx').on('files').column('project_id').execute();
      await db.schema.createIndex('releases_project_idx').on('releases').column('project_id').execute();

      await db.schema
        .createTable('burned_filenames')
        .addColumn('filename', 'text', (c) => c.primaryKey())
        .addColumn('burned_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn(idName, idType, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('projects', 'new_projects', 'publishing')`))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .execute();

      await db.schema
        .createTable('token_projects')
        .addColumn('token_id', 'integer', (c) => c.notNull().references('api_tokens.id'))
        .addColumn('normalized_name', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('token_projects_pk', ['token_id', 'normalized_name'])
        .execute();

      await db.schema
        .createTable('project_owners')
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('token_id', 'integer', (c) => c.notNull().references('api_tokens.id'))
        .addPrimaryKeyConstraint('project_owners_pk', ['project_id', 'token_id'])
        .execute();

      await db.schema
        .createTable('blob_intents')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    async getMigrations() {
      return {
        '0001_initial': initialSchema(dialect),
      };
    },
  };
}
