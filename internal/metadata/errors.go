package metadata

import "errors"

var (
	// ErrNotFound is wrapped by errors about a run or other record that
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is wrapped by errors about creating a record that exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid is wrapped by errors about an argument the store rejects,
	// such as an empty name.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnknownKind is wrapped by Open's error for a kind of store that
	// is not registered.
	ErrUnknownKind = errors.New("unknown metadata store kind")
	// ErrSchemaTooNew is wrapped by Open's error for a database migrated by
	// a newer shp than this one.
	ErrSchemaTooNew = errors.New("metadata schema is newer than this shp")
)
