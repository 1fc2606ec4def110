from tests.conftest import PASSWORD


def test_signup_page_then_dashboard(client, session):
    page = client.get("/signup")
    assert page.status_code == 200
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = client.post("/signup", data={
        "csrf_token": token, "company_name": "Toko Baru", "full_name": "Andi Pratama", "position": "Pemilik",
        "email": "andi@tokobaru.example", "phone": "0812-1111-2222", "birth_date": "1990-02-03",
        "password": PASSWORD, "accept_terms": "on", "industry": "retail", "timezone": "Asia/Jakarta",
    }, follow_redirects=False)
    assert resp.status_code == 303, resp.text[:2000]
    dash = client.get("/dashboard")
    assert dash.status_code == 200
    assert "Andi Pratama" in dash.text
