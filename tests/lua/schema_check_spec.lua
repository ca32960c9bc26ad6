-- schema_check_spec.lua — the snapshot format's one checker, field by field.
local check = require "sparkgen.schema_check"

local function good()
  return {schema = "public", name = "orders", kind = "table", rows = 10,
          columns = {{name = "order_id", position = 1, type = "integer", nullable = false},
                     {name = "customer_id", position = 2, type = "integer"}},
          primary_key = {"order_id"},
          foreign_keys = {{name = "fk", columns = {"customer_id"}, ref_table = "customers",
                           ref_columns = {"customer_id"}}},
          stats = {partition_column = "order_id", lower = 1, upper = 10}}
end

describe("schema_check.check_table", function()
  it("accepts a table in the documented shape", function()
    assert.is_true(check.check_table(good(), "t"))
  end)

  it("accepts the smallest table: a name", function()
    assert.is_true(check.check_table({name = "x"}, "t"))
  end)

  for _, case in ipairs({
    {"a number for a table", function() return 1 end, "t: expected an object, got the number 1"},
    {"no name", function(t) t.name = nil return t end, "t: 'name' must be a non-empty string, got nil"},
    {"an unknown kind", function(t) t.kind = "tabel" return t end, "table public.orders: unknown kind 'tabel' (did you mean: table?)"},
    {"an unknown field", function(t) t.colums = {} return t end, "t: unknown field 'colums' (did you mean: columns?)"},
    {"negative rows", function(t) t.rows = -1 return t end, "'rows' must be a whole number >= 0, got the number -1"},
    {"columns as an object", function(t) t.columns = {a = 1} return t end, "'columns' must be a list, got an object"},
    {"a column without a name", function(t) t.columns[2] = {type = "x"} return t end, "column #2: 'name' must be a non-empty string, got nil"},
    {"a boolean type", function(t) t.columns[1].type = true return t end, "column #1 (order_id): 'type' must be a string, got boolean true"},
    {"a key column that is not a column", function(t) t.primary_key = {"id"} return t end, "primary key column 'id' is not one of its columns"},
    {"foreign_keys holding [1]", function(t) t.foreign_keys = {1} return t end, "foreign key #1: expected an object, got the number 1"},
    {"a foreign key without ref_table", function(t) t.foreign_keys[1].ref_table = nil return t end, "foreign key #1: 'ref_table' must be a non-empty string, got nil"},
    {"uneven key columns", function(t) t.foreign_keys[1].ref_columns = {"a", "b"} return t end, "'columns' has 1 names but 'ref_columns' 2"},
    {"stats with a float bound", function(t) t.stats.lower = 1.5 return t end, "stats: 'lower' must be a whole number, got the number 1.5"},
  }) do
    it("rejects " .. case[1], function()
      local ok, err = check.check_table(case[2](good()), "t")
      assert.is_nil(ok)
      assert.matches(case[3], err, 1, true)
    end)
  end
end)

describe("schema_check.check_relations", function()
  it("accepts {outgoing, incoming} lists of keys and names what is wrong", function()
    assert.is_true(check.check_relations({outgoing = {}, incoming = {}}, "f"))
    local ok, err = check.check_relations({outgoing = {{columns = {}}}, incoming = {}}, "f")
    assert.is_nil(ok)
    assert.matches("f: outgoing #1: 'columns' must be a non-empty list of column names", err, 1, true)
  end)
end)
