// pgjdbc (Debian's libpostgresql-jdbc-java): prepared statements past the server-prepare
// threshold, batches, executeUpdate counts, transactions, types, errors.
//
// Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
// observation, so the test can compare DriftDB's transcript with PostgreSQL's.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcScenario {
    static void show(String label, Object value) {
        System.out.println(label + " " + value);
    }

    static List<String> row(ResultSet rs) throws SQLException {
        List<String> values = new ArrayList<>();
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            Object value = rs.getObject(i);
            values.add(value == null ? "NULL" : value.getClass().getSimpleName() + ":" + value);
        }
        return values;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT")
            + "/" + System.getenv("PGDATABASE");
        Properties props = new Properties();
        props.setProperty("user", System.getenv("PGUSER"));
        try (Connection conn = DriverManager.getConnection(url, props)) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE products (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
                    + "price NUMERIC(10,2), stock INTEGER, added DATE, updated TIMESTAMP, active BOOLEAN)");
            }
            try (PreparedStatement insert = conn.prepareStatement(
                    "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                for (int i = 1; i <= 8; i++) {  // past prepareThreshold (5): server-prepared
                    insert.setLong(1, i);
                    insert.setString(2, "item " + i);
                    insert.setBigDecimal(3, new BigDecimal(i + ".50"));
                    if (i % 3 == 0) insert.setNull(4, Types.INTEGER); else insert.setInt(4, i * 10);
                    insert.setDate(5, java.sql.Date.valueOf("2026-01-0" + (i % 9 + 1)));
                    insert.setTimestamp(6, Timestamp.valueOf("2026-02-03 04:05:06.789"));
                    insert.setBoolean(7, i % 2 == 0);
                    show("insert " + i, insert.executeUpdate());
                }
            }
            try (PreparedStatement select = conn.prepareStatement(
                    "SELECT * FROM products WHERE id = ?")) {
                for (long id = 1; id <= 7; id++) {
                    select.setLong(1, id);
                    try (ResultSet rs = select.executeQuery()) {
                        while (rs.next()) show("row " + id, row(rs));
                    }
                }
            }
            try (PreparedStatement batch = conn.prepareStatement(
                    "UPDATE products SET stock = coalesce(stock, 0) + ? WHERE id = ?")) {
                for (long id = 1; id <= 4; id++) {
                    batch.setInt(1, 5);
                    batch.setLong(2, id);
                    batch.addBatch();
                }
                show("batch", Arrays.toString(batch.executeBatch()));
            }
            try (PreparedStatement failing = conn.prepareStatement(
                    "INSERT INTO products (id, name) VALUES (?, ?)")) {
                failing.setLong(1, 100); failing.setString(2, "new"); failing.addBatch();
                failing.setLong(1, 1); failing.setString(2, "duplicate"); failing.addBatch();
                failing.executeBatch();
            } catch (BatchUpdateException e) {
                show("batch error", e.getNextException() != null ? e.getNextException().getSQLState() : e.getSQLState());
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM products WHERE id = 100")) {
                rs.next();
                show("failed batch kept", rs.getLong(1));
            }
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                show("update in txn", st.executeUpdate("UPDATE products SET active = true"));
                try {
                    st.executeQuery("SELECT * FROM missing");
                } catch (SQLException e) {
                    show("error", e.getSQLState());
                }
                try {
                    st.executeQuery("SELECT 1");
                } catch (SQLException e) {
                    show("aborted", e.getSQLState());
                }
            }
            conn.rollback();
            conn.setAutoCommit(true);
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM products WHERE active")) {
                rs.next();
                show("active after rollback", rs.getLong(1));
            }
            try (Statement st = conn.createStatement()) {
                show("delete", st.executeUpdate("DELETE FROM products WHERE stock IS NULL"));
                st.execute("DROP TABLE products");
            }
        }
    }
}
